"""Ray's own autoscaler on this machine: a search makes it add "GPU" nodes and they go away.

A head with the autoscaler over Ray's fake multi-node provider (adaptune.autoscale, made
from cluster.yaml: its worker types from 0, one CPU each, an A10G type's resources). The
head has no CPU and no accelerator, so the trials (which ask for ``accelerator_type:A10G``
and train on the CPU) need nodes the autoscaler starts. Two checks:

- scale up and down: nodes of the A10G types appear (Ray's state API), the trials ran on
  them (their MLflow runs' node ids), and they are gone within the idle timeout after.
- a spot reclaim: the raylet of the node a trial runs on is SIGKILLed mid-trial; the trial
  goes on from its last checkpoint on another node, and MLflow holds each epoch once.

It prints the scale-up time (demand to node alive), the scale-down time (search end to no
worker) and the preempted trial's lost work in epochs. Every process it starts it stops
by process id (never `ray stop`, which stops every Ray instance on the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ROOT, local_autoscaler, write

from adaptune.autoscale import LocalAutoscaler, load_cluster

pytestmark = pytest.mark.integration

IDLE_S = 10.0  # the workers' idle timeout
ACCELERATOR = "A10G"  # gpu_a10g and gpu_a10g_spot in cluster.yaml
JOB = """\
name: {name}
method: dao
data: {{source: synthetic-finsent, n_train: 48, seed: 3}}
fixed: {{epochs: {epochs}, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 4}}
search: {{space: space.yaml, sampler: grid, scheduler: {{type: fifo}}, max_concurrent: 2}}
resources: {{use_gpu: false, accelerator_type: A10G, trial_retries: 2}}
storage_path: {storage}
promote: {{enabled: false}}
"""
SPACE = "dao_lr: {{type: categorical, choices: [{choices}]}}\n"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalAutoscaler]:
    with local_autoscaler("as", load_cluster(ROOT / "cluster.yaml"), IDLE_S) as head:
        yield head


def _report(capsys: pytest.CaptureFixture[str], **numbers: float) -> None:
    with capsys.disabled():  # shown without -s too
        print(f"\n[autoscale] {json.dumps(numbers)}", flush=True)


def _search(tmp_path: Path, cl: LocalAutoscaler, name: str, epochs: int, lrs: str) -> Any:
    write(tmp_path / "space.yaml", SPACE.format(choices=lrs))
    job = JOB.format(name=name, epochs=epochs, storage=tmp_path / "tune")
    write(tmp_path / "job.yaml", job)
    state, log = tmp_path / "state", (tmp_path / "driver.log").open("w")
    argv = [sys.executable, "-m", "adaptune", "--state-dir", str(state), "search"]
    argv += [
        str(tmp_path / "job.yaml"),
        "--address",
        cl.address,
        "--json",
        str(tmp_path / "out.json"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def _db(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read-only SQL on the driver's MLflow store (an MlflowClient here would race the
    driver's own creation of the store's tables)."""
    db = tmp_path / "state" / "mlflow.db"
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute(sql).fetchall()
    except sqlite3.Error:  # not created yet
        return []


def _tags(tmp_path: Path, key: str) -> list[str]:
    return [str(r[0]) for r in _db(tmp_path, f"SELECT value FROM tags WHERE key = '{key}'")]


def _log(tmp_path: Path) -> str:
    return (tmp_path / "driver.log").read_text()[-3000:]


def _wait(what: str, check: Any, timeout: float, driver: Any, tmp_path: Path) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"no {what} in {timeout:.0f} s: {_log(tmp_path)}"
        assert driver is None or driver.poll() is None, _log(tmp_path)
        time.sleep(0.5)
    return found


def _demanded(cl: LocalAutoscaler) -> bool:
    """The autoscaler saw trials waiting (a trial actor's placement group) or launches."""
    status = cl.status()
    load, report = status.get("load_metrics_report", {}), status.get("autoscaler_report") or {}
    waiting = load.get("resource_demand") or load.get("pg_demand")
    return bool(waiting or report.get("pending_launches") or report.get("pending_nodes"))


def _scale_down(cl: LocalAutoscaler) -> float:
    start = time.monotonic()
    _wait("scale-down", lambda: not cl.nodes(), IDLE_S + 60, None, Path("."))
    return time.monotonic() - start


def test_search_scales_accelerator_nodes_up_from_zero_and_back(
    cluster: LocalAutoscaler, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cluster.nodes() == []  # no worker, and the head offers no accelerator
    driver = _search(tmp_path, cluster, "scale", 2, "1.0e-3, 3.0e-3")
    try:
        _wait("demand", lambda: _demanded(cluster), 180, driver, tmp_path)
        demand = time.monotonic()
        _wait("worker node", cluster.nodes, 120, driver, tmp_path)
        scale_up = time.monotonic() - demand
        nodes: dict[str, str] = {}  # every worker seen: an idle one may go before the end
        deadline = time.monotonic() + 300
        while driver.poll() is None:
            assert time.monotonic() < deadline, _log(tmp_path)
            nodes.update(cluster.nodes())
            time.sleep(1)
        assert driver.returncode == 0, _log(tmp_path)
    finally:
        if driver.poll() is None:
            driver.kill()
    ended = time.monotonic()
    summary = json.loads((tmp_path / "out.json").read_text())
    assert summary["completed"] == 2 and not summary["errored"]
    ran_on = set(_tags(tmp_path, "adaptune.node_id"))
    assert len(ran_on) >= 1 and ran_on <= set(nodes)  # the trials ran on the new workers
    assert {nodes[n] for n in ran_on} <= {"gpu_a10g", "gpu_a10g_spot"}
    _scale_down(cluster)
    scale_down = time.monotonic() - ended
    assert scale_down < IDLE_S + 30
    _report(
        capsys, scale_up_s=round(scale_up, 1), scale_down_s=round(scale_down, 1), nodes=len(nodes)
    )


def _machine(node_id: str) -> list[int]:
    """Every process of the fake node `node_id`, its raylet first: the raylet, its agents
    and the workers it started all carry the node's id in their environment."""
    needle = f"RAY_OVERRIDE_NODE_ID_FOR_TESTING={node_id}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                raylet = b"raylet" in (proc / "cmdline").read_bytes().split(b"\0")[0]
                found.append((not raylet, int(proc.name)))
    found.sort()
    assert found and not found[0][0], f"no raylet of node {node_id}"
    return [pid for _, pid in found]


EPOCHS = 4


def test_preempted_node_trial_resumes_elsewhere_from_its_checkpoint(
    cluster: LocalAutoscaler, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = _search(tmp_path, cluster, "spot", EPOCHS, "1.0e-3")
    epochs = "SELECT step, timestamp FROM metrics WHERE key = 'val/mse' ORDER BY step"
    try:
        _wait("first epoch", lambda: _db(tmp_path, epochs), 300, driver, tmp_path)
        (node,) = _wait(
            "node tag", lambda: _tags(tmp_path, "adaptune.node_id"), 60, driver, tmp_path
        )
        # A spot reclaim takes the whole machine: the raylet and every process it started.
        # (The raylet alone is not enough: the trial actor reports to the driver directly
        # and trains on until it notices its raylet is gone.)
        for pid in _machine(node):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        killed_at, done_before = time.time(), _db(tmp_path, epochs)
        assert driver.wait(400) == 0, _log(tmp_path)
    finally:
        if driver.poll() is None:
            driver.kill()
    summary = json.loads((tmp_path / "out.json").read_text())
    assert summary["trials"] == 1 and summary["completed"] == 1 and not summary["errored"]
    logged = _db(tmp_path, epochs)
    assert [s for s, _ in logged] == list(range(1, EPOCHS + 1))  # each epoch once
    assert len(_db(tmp_path, "SELECT run_uuid FROM runs")) == 2  # the search run, one trial
    (moved,) = _tags(tmp_path, "adaptune.node_ids")
    assert moved.split(",")[0] == node and len(set(moved.split(","))) == 2, moved
    # lost work: what the killed node did after its last checkpoint, in epochs
    times = [t / 1000 for _, t in logged]
    after = times[len(done_before) :]
    epoch_s = (after[-1] - after[0]) / max(1, len(after) - 1) if len(after) > 1 else 0.0
    last = done_before[-1][1] / 1000
    lost = (killed_at - last) / epoch_s if epoch_s else float("nan")
    _report(
        capsys,
        lost_epochs=round(lost, 2),
        epoch_s=round(epoch_s, 1),
        killed_after_epoch=len(done_before),
    )
    _scale_down(cluster)
