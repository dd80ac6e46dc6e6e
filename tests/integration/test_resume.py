"""Kill the search driver with SIGKILL mid-search; `adaptune resume` finishes the search.

Afterwards: every Tune trial has exactly one live MLflow run (none lost, none twice),
the interrupted trials were restarted in their own runs, and the summary counts all
trials of the search, the ones finished before the crash included.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pytest
import ray
from tests.conftest import ROOT, write

from adaptune.cli import main

pytestmark = pytest.mark.integration

JOB = """\
name: crash
method: dao
data: {source: synthetic-finsent, n_train: 64, seed: 2}
fixed: {epochs: 2, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 4}
search:
  space: space.yaml
  sampler: tpe
  num_samples: 6
  max_concurrent: 2
  scheduler: {type: fifo}
  seed: 0
resources: {workers_per_trial: 1, cpus_per_worker: 1}
promote: {enabled: false}
"""
SPACE = "lr: {type: float, low: 1.0e-5, high: 3.0e-3, log: true}\n"


def resume_here(state: Path, name: str, out: Path, *more: str) -> tuple[int, dict[str, Any]]:
    """`adaptune resume NAME` in this process (its local Ray stopped after): the exit code
    and the summary it wrote."""
    try:
        code = main(["--state-dir", str(state), "resume", name, *more, "--json", str(out)])
    finally:
        ray.shutdown()
    return code, json.loads(out.read_text())


def _finished_runs(state: Path) -> int:
    """Trial runs tagged completed so far. Raw read-only SQL: an MlflowClient here would
    race the driver's own creation of the store's tables."""
    db = state / "mlflow.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            (n,) = con.execute(
                "SELECT COUNT(*) FROM tags WHERE key = 'adaptune.status' AND value = 'completed'"
            ).fetchone()
    except sqlite3.Error:  # not created yet
        return 0
    return int(n)


def _kill_driver_when(job: Path, state: Path, ready: Callable[[], bool], waiting: str) -> None:
    """Start `adaptune search job` as its own process; SIGKILL it once `ready()` holds."""
    driver = subprocess.Popen(
        [sys.executable, "-m", "adaptune", "--state-dir", str(state), "search", str(job)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "platform")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 900
    try:
        while not ready():
            assert driver.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline, f"timed out waiting: {waiting}"
            time.sleep(2)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
    time.sleep(5)  # the driver's local Ray shares its fate; give it a moment to go


def test_resume_after_sigkill(tmp_path: Path) -> None:
    write(tmp_path / "space.yaml", SPACE)
    job = write(tmp_path / "job.yaml", JOB)
    state = tmp_path / "state"
    # kill with some trials done and some running
    _kill_driver_when(job, state, lambda: _finished_runs(state) >= 2, "2 trials completed")

    records = list((state / "searches").glob("*.json"))
    assert len(records) == 1
    name = records[0].stem
    assert json.loads(records[0].read_text())["finished"] is False
    code, summary = resume_here(state, name, tmp_path / "s.json")
    assert code == 0 and summary["search"] == name
    assert summary["trials"] == 6, summary  # nothing lost
    assert summary["completed"] + len(summary["stopped"]) + len(summary["errored"]) == 6
    assert summary["completed"] >= 5

    client = mlflow.MlflowClient(summary["tracking_uri"])
    parent = client.get_run(summary["parent_run_id"])
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    live = [r for r in runs if r.data.tags.get("adaptune.status") != "lost"]
    per_trial = Counter(r.data.tags["adaptune.trial_id"] for r in live)
    assert len(per_trial) == 6 and set(per_trial.values()) == {1}, per_trial  # 1:1
    assert all(r.info.status in ("FINISHED", "KILLED", "FAILED") for r in runs)
    assert parent.info.status == "FINISHED"
    assert json.loads(records[0].read_text())["finished"] is True
    # Resuming a finished search is a no-op that says so.
    assert main(["--state-dir", str(state), "resume", name]) == 0


STAGED = """\
name: staged
method: dao
data: {source: synthetic-finsent, n_train: 64, seed: 2}
fixed: {epochs: 2, max_len: 16, batch_size: 8, warmup_steps: 1, lora_rank: 4}
stages:
  - name: base
    fixed: {weighting: constant}
    search: {space: base.yaml, num_samples: 2, scheduler: {type: fifo}}
  - name: weighting
    fixed: {weighting: dao}
    search: {space: weighting.yaml, num_samples: 2, scheduler: {type: fifo}}
promote: {enabled: false}
"""


def _stage_two_saved(state: Path) -> bool:
    """Stage 2 runs and Tune has saved its experiment state: a resume continues it. (Killed
    before that save, a stage starts again as a new search: driver/resume.py's `restorable`,
    tests/unit/driver/test_resume_record.py.)"""
    for p in (state / "searches").glob("*.json"):
        record = json.loads(p.read_text())
        if record.get("stage") == 1:
            tune_dir = Path(record["storage"]) / record["search"]
            return any(tune_dir.glob("experiment_state-*.json"))
    return False


def test_resume_multi_stage_job_at_the_stage_it_stopped(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "lr: {type: float, low: 1.0e-4, high: 1.0e-3, log: true}\n")
    write(tmp_path / "weighting.yaml", "dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2}\n")
    job = write(tmp_path / "job.yaml", STAGED)
    state = tmp_path / "state"
    _kill_driver_when(
        job,
        state,
        lambda: (state / "searches").exists() and _stage_two_saved(state),
        "stage 2 started and saved by Tune",
    )

    jobs = [
        p
        for p in (state / "searches").glob("*.json")
        if json.loads(p.read_text()).get("kind") == "job"
    ]
    assert len(jobs) == 1
    done_before = json.loads(jobs[0].read_text())["stages_done"]
    assert len(done_before) == 1  # killed in stage 2
    out = tmp_path / "s.json"
    try:
        code = main(["--state-dir", str(state), "resume", jobs[0].stem, "--json", str(out)])
    finally:
        ray.shutdown()
    assert code == 0
    first, second = json.loads(out.read_text())
    assert first["search"] == done_before[0]["search"]  # stage 1 was not run again
    assert second["trials"] == 2 and second["completed"] == 2

    client = mlflow.MlflowClient(first["tracking_uri"])
    stage_runs = [client.get_run(s["parent_run_id"]) for s in (first, second)]
    assert len({r.data.tags["mlflow.parentRunId"] for r in stage_runs}) == 1  # one job run
    searches = client.search_runs(
        [stage_runs[0].info.experiment_id], filter_string="tags.`adaptune.kind` = 'search'"
    )
    assert len(searches) == 2  # one search run per stage, no second one for stage 2
    trials = client.search_runs(
        [stage_runs[1].info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{stage_runs[1].info.run_id}'",
    )
    live = Counter(
        r.data.tags["adaptune.trial_id"]
        for r in trials
        if r.data.tags.get("adaptune.status") != "lost"
    )
    assert len(live) == 2 and set(live.values()) == {1}
