"""The MLflow tracking server dies mid-search and comes back: the search completes, and
every write made while it was down is caught up: one run per trial, every epoch's
metrics, the right status, the models, the promotion.

A real `mlflow server` (SQLite store, served artifacts) on a free loopback port; a
thread kills its process group once the first trial metric is on it, keeps it down for
OUTAGE_S seconds, and starts it again on the same port over the same store.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import mlflow
import pytest
import ray
from tests.conftest import write

from adaptune.cli import main

pytestmark = pytest.mark.integration

EPOCHS, TRIALS, OUTAGE_S = 3, 4, 25
JOB = f"""\
name: outage
method: dao
data: {{source: synthetic-finsent, n_train: 64, seed: 2}}
fixed: {{epochs: {EPOCHS}, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 4}}
search:
  space: space.yaml
  sampler: random
  num_samples: {TRIALS}
  max_concurrent: 2
  scheduler: {{type: fifo}}
  seed: 0
resources: {{workers_per_trial: 1, cpus_per_worker: 1}}
promote: {{model_name: outage-dao}}
"""
SPACE = "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n"
MLFLOW = str(Path(sys.executable).parent / "mlflow")


class Server:
    """`mlflow server` on 127.0.0.1:port, in its own process group."""

    def __init__(self, root: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.uri = f"http://127.0.0.1:{self.port}"
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 180.0) -> None:
        self.starts += 1
        log = open(self.root / f"server-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                MLFLOW,
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{self.root / 'server.db'}",
                "--artifacts-destination",
                (self.root / "artifacts").as_uri(),
            ],
            # no job-runner process: a quicker start on a busy machine
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed whole
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"mlflow server exited; see {log.name}"
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"mlflow server not up in {timeout} s; see {log.name}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)


def _first_metric_seen(uri: str) -> bool:
    try:
        client = mlflow.MlflowClient(uri)
        ids = [e.experiment_id for e in client.search_experiments()]
        runs = client.search_runs(ids, "tags.`adaptune.trial_id` != ''") if ids else []
        return any(r.data.metrics for r in runs)
    except Exception:  # tables still being created, or a read timing out on a busy box
        return False


def _outage(server: Server, log: dict[str, Any]) -> None:
    """Kill the server once a trial metric is on it; bring it back OUTAGE_S later."""
    try:
        deadline = time.monotonic() + 600
        while not _first_metric_seen(server.uri):
            if time.monotonic() > deadline or log.get("search_done"):
                raise TimeoutError("no trial metric reached the server")
            time.sleep(1)
        server.kill()
        log["killed"] = time.monotonic()
        time.sleep(OUTAGE_S)
        server.start()
        log["back"] = time.monotonic()
    except BaseException as e:
        log["error"] = repr(e)


def test_search_survives_mlflow_outage(tmp_path: Path) -> None:
    write(tmp_path / "space.yaml", SPACE)
    job = write(tmp_path / "job.yaml", JOB)
    out = tmp_path / "s.json"
    server = Server(tmp_path)
    server.start()
    log: dict[str, Any] = {}
    watcher = threading.Thread(target=_outage, args=(server, log), daemon=True)
    try:
        watcher.start()
        started = time.monotonic()
        code = main(
            ["--state-dir", str(tmp_path / "st"), "search", str(job),
             "--tracking-uri", server.uri, "--json", str(out)]
        )  # fmt: skip
        log["search_done"], ended = True, time.monotonic()
        watcher.join(300)
        assert "error" not in log, log["error"]
        summary = json.loads(out.read_text())
        client = mlflow.MlflowClient(server.uri)
        parent = client.get_run(summary["parent_run_id"])
        runs = client.search_runs(
            [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
        )
        history = {
            r.info.run_id: sorted(
                m.step for m in client.get_metric_history(r.info.run_id, "val/mse")
            )
            for r in runs
        }
    finally:
        ray.shutdown()
        server.kill()

    writes = summary["mlflow_writes"]
    print(
        f"\nsearch {ended - started:.0f} s; server killed at {log['killed'] - started:.0f} s, "
        f"back at {log['back'] - started:.0f} s; MLflow writes: {json.dumps(writes)}"
    )
    assert code == 0 and summary["completed"] == TRIALS
    assert log["back"] < ended  # the outage happened during the search
    assert writes["queued"] > 0 and writes["failed_attempts"] > 0  # writes did fail
    assert writes["caught_up"] == writes["queued"] and writes["lost"] == 0
    assert summary["unrecorded"] == []

    assert sorted(r.data.tags["adaptune.trial_id"] for r in runs) == sorted(
        {r.data.tags["adaptune.trial_id"] for r in runs}
    )  # one run per trial
    assert len(runs) == TRIALS
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.tags["adaptune.status"] == "completed"
        # tracking.log_models: best (the default): the chosen trial's model alone
        logged = run.data.tags.get("adaptune.model_uri", "").startswith("models:/")
        assert logged == (run.data.tags["adaptune.trial_id"] == summary["best_trial"])
        assert "lr" in run.data.params
        steps = history[run.info.run_id]  # every epoch, once
        assert steps == list(range(1, EPOCHS + 1)), (run.data.tags["adaptune.trial_id"], steps)
    assert parent.info.status == "FINISHED" and parent.data.metrics["completed"] == TRIALS
    assert summary["promotion"]["promoted"], summary["promotion"]
