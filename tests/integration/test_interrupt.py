"""Ctrl-C and SIGTERM stop a search, they do not end it; a resume finishes it.

One search, six trials, driven by real `adaptune` processes: SIGINT mid-search (exit 130,
nothing decided, no run left RUNNING); a resume of the changed job file is refused naming
the key; a resume is started and a second one at the same time is refused naming the
first's PID; SIGTERM stops the first (exit 143); a last resume finishes the search with
every trial counted once. Low disk space stops a search resumable too (exit 1);
`--promote-partial` ends a search a signal stopped on the trials it finished; a changed
job resumed with `--force` is a new search warm-started from the old one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest
from tests.conftest import ROOT, write
from tests.integration.test_resume import JOB, SPACE, _finished_runs, resume_here

from adaptune.cli import main
from adaptune.driver.disk import FREE_BYTES_ENV

pytestmark = pytest.mark.integration


def _adaptune(state: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "adaptune", "--state-dir", str(state), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT / "platform")},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def _signal_when(
    driver: subprocess.Popen[bytes],
    sig: int | None,
    ready: Callable[[], bool],
    waiting: str,
    then: Callable[[], object] = lambda: None,
) -> int:
    """Once `ready()` holds, send `sig` to the driver (if given) and call `then`; the
    driver's exit code."""
    deadline = time.monotonic() + 900
    try:
        while not ready():
            assert driver.poll() is None, f"the driver ended before {waiting}"
            assert time.monotonic() < deadline, f"timed out waiting: {waiting}"
            time.sleep(1)
        if sig is not None:
            driver.send_signal(sig)
        then()
        return driver.wait(300)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(30)


def _runs(state: Path, name: str) -> tuple[mlflow.MlflowClient, object, list[object]]:
    record = json.loads((state / "searches" / f"{name}.json").read_text())
    client = mlflow.MlflowClient(record["tracking_uri"])
    parent = client.get_run(record["parent_run_id"])
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    return client, parent, runs


def _record(state: Path) -> dict:
    (path,) = (state / "searches").glob("*.json")
    return json.loads(path.read_text())


def test_interrupted_search_resumes_to_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "space.yaml", SPACE)
    job = write(tmp_path / "job.yaml", JOB)
    state, log = tmp_path / "state", tmp_path / "driver.log"

    # SIGINT with two trials done: exit 130, a resumable record, no run left RUNNING
    code = _signal_when(
        _adaptune(state, log, "search", str(job)),
        signal.SIGINT,
        lambda: _finished_runs(state) >= 2,
        "2 trials completed",
    )
    said = log.read_text()
    assert code == 130, said
    name = _record(state)["search"]
    assert f"resume {name}" in said and "nothing was decided or promoted" in said
    assert _record(state)["finished"] is False
    _, parent, runs = _runs(state, name)
    assert parent.info.status == "KILLED"
    assert all(r.info.status != "RUNNING" for r in runs), [r.info.status for r in runs]
    interrupted = [r for r in runs if r.data.tags.get("adaptune.status") == "interrupted"]
    assert all(r.info.status == "KILLED" for r in interrupted)
    # the Optuna study was stored as the search ran (what optuna-dashboard shows live)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{state / 'optuna.db'}")
    assert sum(t.state.name == "COMPLETE" for t in study.trials) >= 2

    # the job file changed since: refused before anything starts, naming the key
    write(job, JOB.replace("epochs: 2", "epochs: 3"))
    assert main(["--state-dir", str(state), "resume", name]) == 2
    assert "fixed.epochs: 2 -> 3" in capsys.readouterr().err
    write(job, JOB)

    # a resume runs; a second one at the same time is refused, naming the first's PID
    done_before = _finished_runs(state)
    first = _adaptune(state, log, "resume", name)
    lock = state / "searches" / f"{name}.lock"

    def first_holds_and_trains() -> bool:
        holds = lock.exists() and lock.read_text().strip() == str(first.pid)
        if holds and not getattr(first_holds_and_trains, "checked", False):
            assert main(["--state-dir", str(state), "resume", name]) == 1
            assert f"process {first.pid}" in capsys.readouterr().err
            first_holds_and_trains.checked = True  # type: ignore[attr-defined]
        return holds and _finished_runs(state) > done_before

    code = _signal_when(first, signal.SIGTERM, first_holds_and_trains, "a resumed trial ended")
    assert code == 143, log.read_text()
    assert getattr(first_holds_and_trains, "checked", False)
    assert _record(state)["finished"] is False

    # the last resume finishes it: six trials, one live run each, none RUNNING
    code, summary = resume_here(state, name, tmp_path / "s.json")
    assert code == 0 and summary["trials"] == 6, summary
    # one study all along: the resumes told their trials to it
    (kept,) = optuna.get_all_study_summaries(f"sqlite:///{state / 'optuna.db'}")
    assert kept.study_name == name and kept.n_trials >= 6
    assert summary["completed"] + len(summary["stopped"]) + len(summary["errored"]) == 6
    _, parent, runs = _runs(state, name)
    live = Counter(
        r.data.tags["adaptune.trial_id"]
        for r in runs
        if r.data.tags.get("adaptune.status") != "lost"
    )
    assert len(live) == 6 and set(live.values()) == {1}, live
    assert all(r.info.status != "RUNNING" for r in runs)
    assert parent.info.status == "FINISHED" and _record(state)["finished"] is True


def test_low_disk_stops_a_search_resumable_and_promote_partial_ends_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "space.yaml", SPACE)
    job = write(tmp_path / "job.yaml", JOB)
    state, log, out = tmp_path / "state", tmp_path / "driver.log", tmp_path / "s.json"
    free = tmp_path / "free"  # the free space the disk guard and watch read (disk.py)
    free.write_text(str(10**12))
    monkeypatch.setenv(FREE_BYTES_ENV, f"@{free}")

    # the disk runs low with a trial done: the search stops resumable, exit 1, even with
    # --promote-partial (which ends only a search a signal stopped)
    driver = _adaptune(state, log, "search", str(job), "--promote-partial")
    code = _signal_when(
        driver,
        None,
        lambda: _finished_runs(state) >= 1,
        "a trial",
        then=lambda: free.write_text("1000"),
    )
    said = log.read_text()
    assert code == 1, said
    name = _record(state)["search"]
    assert "stopped: only 0.00 GB free" in said and f"resume {name}" in said, said
    assert _record(state)["finished"] is False
    _, parent, runs = _runs(state, name)
    assert parent.info.status == "KILLED" and all(r.info.status != "RUNNING" for r in runs)

    # space freed, resumed with --promote-partial and interrupted: it ends on what finished
    free.write_text(str(10**12))
    done = _finished_runs(state)
    driver = _adaptune(state, log, "resume", name, "--promote-partial", "--json", str(out))
    code = _signal_when(driver, signal.SIGINT, lambda: _finished_runs(state) > done, "a trial")
    said = log.read_text()
    assert code == 0, said
    summary = json.loads(out.read_text())
    assert summary["completed"] >= 2 and summary["best_trial"]
    if "the trials have ended" in said:  # the signal came after the last one: it finished
        assert summary["trials"] == 6
    assert _record(state)["finished"] is True
    _, parent, runs = _runs(state, name)
    # it counts the trials that ended, not the interrupted or never-started ones (all six
    # when the signal came as the last one ended)
    ended = {"completed", "stopped", "errored"}
    trials = {
        r.data.tags["adaptune.trial_id"]
        for r in runs
        if r.data.tags.get("adaptune.status") in ended
    }
    assert summary["trials"] == len(trials) <= 6, summary
    assert parent.info.status == "FINISHED"
    assert all(r.info.status != "RUNNING" for r in runs)


def test_a_changed_job_resumed_with_force_is_a_new_search_warm_started_from_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "space.yaml", SPACE)
    job = write(tmp_path / "job.yaml", JOB)
    state, log, out = tmp_path / "state", tmp_path / "driver.log", tmp_path / "s.json"
    code = _signal_when(
        _adaptune(state, log, "search", str(job)),
        signal.SIGINT,
        lambda: _finished_runs(state) >= 2,
        "2 trials completed",
    )
    assert code == 130, log.read_text()
    name = _record(state)["search"]
    write(job, JOB.replace("num_samples: 6", "num_samples: 3").replace("epochs: 2", "epochs: 1"))
    code, summary = resume_here(state, name, out, "--force")
    said = capsys.readouterr().out
    assert code == 0 and summary["search"] != name and summary["trials"] == 3, summary
    assert f"warm start from search {name}: 2 configs" in said, said
    old = json.loads((state / "searches" / f"{name}.json").read_text())
    assert old["finished"] is False  # the old search is left as it was
