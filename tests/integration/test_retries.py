"""Kill the process that trains a trial mid-training: the trial restarts from its last
end-of-epoch checkpoint, its MLflow run continues (each epoch logged once), and it ends
where an uninterrupted run of the same trial ends.

Both ways a trial trains are covered: a Ray Train worker group (worker_group: always;
Ray Train restarts the group) and the Tune trial actor itself (a one-worker trial by
default; Tune restarts the trial)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import ray
from tests.conftest import ROOT, write

from adaptune.cli import main

pytestmark = pytest.mark.integration

EPOCHS = 6
JOB = """\
name: retry
method: dao
data: {{source: synthetic-finsent, n_train: 320, seed: 5}}
fixed: {{epochs: 6, max_len: 24, batch_size: 8, warmup_steps: 0, lora_rank: 4,
        lr: 5.0e-4}}
search: {{space: space.yaml, sampler: grid, scheduler: {{type: fifo}}}}
resources: {{workers_per_trial: 1, cpus_per_worker: 1, trial_retries: 2,
            worker_group: {group}}}
promote: {{enabled: false}}
"""
SPACE = "dao_lr: {type: categorical, choices: [1.0e-3]}\n"


def _epochs_logged(state: Path) -> list[int]:
    """Epochs of val/mse the trial run has so far. Raw read-only SQL: an MlflowClient
    here would race the driver's own creation of the store's tables."""
    db = state / "mlflow.db"
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            rows = con.execute(
                "SELECT step FROM metrics WHERE key = 'val/mse' ORDER BY step"
            ).fetchall()
    except sqlite3.Error:  # not created yet
        return []
    return [int(r[0]) for r in rows]


def _trainers(pid: int, title: str) -> list[psutil.Process]:
    """Processes under the driver whose title holds `title`."""
    found = []
    for p in psutil.Process(pid).children(recursive=True):
        try:
            if title in " ".join(p.cmdline()):
                found.append(p)
        except psutil.Error:
            continue
    return found


@pytest.mark.parametrize(
    ("group", "title"), [("always", "RayTrainWorker"), ("auto", "ImplicitFunc")]
)
def test_killed_trainer_resumes_from_its_checkpoint(tmp_path: Path, group: str, title: str) -> None:
    write(tmp_path / "space.yaml", SPACE)
    job = write(tmp_path / "job.yaml", JOB.format(group=group))

    ref_out = tmp_path / "ref.json"
    try:  # the same trial, uninterrupted
        assert (
            main(["--state-dir", str(tmp_path / "ref"), "search", str(job), "--json", str(ref_out)])
            == 0
        )
    finally:
        ray.shutdown()
    reference = json.loads(ref_out.read_text())

    state, out, log = tmp_path / "faulty", tmp_path / "faulty.json", tmp_path / "faulty.log"
    driver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adaptune",
            "--state-dir",
            str(state),
            "search",
            str(job),
            "--json",
            str(out),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT / "platform")},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    killed: list[int] = []
    try:
        deadline = time.monotonic() + 600
        while len(_epochs_logged(state)) < 2:
            assert driver.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.5)
        for proc in _trainers(driver.pid, title):
            proc.send_signal(signal.SIGKILL)
            killed.append(proc.pid)
        assert driver.wait(600) == 0, log.read_text()[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
    assert killed, f"no {title} process found to kill"
    seen_at_kill = _epochs_logged(state)
    summary = json.loads(out.read_text())
    assert summary["completed"] == 1 and not summary["errored"]
    assert _epochs_logged(state) == list(range(1, EPOCHS + 1)), seen_at_kill  # once each
    assert summary["best_value"] == pytest.approx(reference["best_value"], rel=0.02)
