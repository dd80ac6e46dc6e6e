"""The Python API end to end: a job made in code, searched through at.search on a real
local Ray and SQLite MLflow, read back with at.load, in library mode."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pytest
import ray

import adaptune as at

pytestmark = pytest.mark.integration

JOB: dict[str, Any] = {
    "name": "api",
    "method": "dao",
    "data": {"source": "synthetic-finsent", "n_train": 64, "seed": 1},
    "fixed": {"epochs": 2, "max_len": 16, "batch_size": 8, "warmup_steps": 2, "lora_rank": 4},
    "search": {
        "space": {  # held in memory: an optuna distribution and a YAML-format entry
            "lr": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True),
            "dao_lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True},
        },
        "num_samples": 2,
        "scheduler": {"type": "fifo"},
        "seed": 0,
    },
    "promote": {"model_name": "api-dao"},
}
WATCHED = ("", "ray", "mlflow", "optuna")


def _loggers() -> dict[str, Any]:
    return {
        n: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for n in WATCHED
        for lg in [logging.getLogger(n or None)]
    }


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Any:
    state = tmp_path_factory.mktemp("api") / "state"
    environ, loggers = dict(os.environ), _loggers()
    uri = mlflow.get_tracking_uri()
    result = at.search(at.Job.from_dict(JOB), state_dir=state)
    after = {"environ": dict(os.environ), "loggers": _loggers(), "uri": mlflow.get_tracking_uri()}
    yield result, state, {"environ": environ, "loggers": loggers, "uri": uri}, after
    ray.shutdown()


def test_search_returns_one_row_per_trial(searched: Any) -> None:
    result, _, _, _ = searched
    df = result.trials_df()
    assert len(df) == 2 and set(df["status"]) == {"completed"}
    assert {"trial_id", "stop_epoch", "best_val/mse", "last_val/mse", "lr", "dao_lr"} <= set(df)
    assert {"cost_usd", "node_id", "run_id"} <= set(df)
    assert df["lr"].between(1e-5, 1e-3).all()


def test_result_holds_best_test_and_champion(searched: Any) -> None:
    result, state, _, _ = searched
    assert result.kind == "search" and result.completed == 2
    best = result.best
    assert best is not None and best.trial_id in set(result.trials_df()["trial_id"])
    assert set(best.config) == {"lr", "dao_lr"} and "test/mse" in best.test
    assert best.val == min(result.trials_df()["last_val/mse"])  # chosen on val
    assert best.model_uri and result.champion is not None and result.champion.promoted
    assert result.report_path == state / "reports" / f"{result.name}.html"
    assert result.cost["usd"] > 0


def test_load_reads_the_same_search_from_mlflow(searched: Any) -> None:
    result, state, _, _ = searched
    loaded = at.load(result.name, state_dir=state)
    assert loaded.trials_df().equals(result.trials_df())
    assert loaded.best == result.best and loaded.champion == result.champion


def test_library_mode_leaves_the_process_as_it_was(searched: Any) -> None:
    _, _, before, after = searched
    assert after["environ"] == before["environ"]
    assert after["loggers"] == before["loggers"]
    assert after["uri"] == before["uri"]


def test_resume_of_a_finished_search_says_so(searched: Any) -> None:
    result, state, _, _ = searched
    with pytest.raises(LookupError, match="finished already"):
        at.resume(result.name, state_dir=state)


def test_the_job_made_in_code_is_recorded_for_resume(searched: Any) -> None:
    result, state, _, _ = searched
    from adaptune.driver import resume as resume_lib

    record = resume_lib.load(Path(state), result.name)
    assert Path(record.job).exists()
    assert at.Job.from_yaml(record.job).search.space["lr"]["type"] == "float"


def test_a_method_registered_here_is_searched_in_the_trial_actors(
    searched: Any, tmp_path: Path
) -> None:
    """A notebook's own method: no entry point, no file the trial actors know by name; the
    search ships its Method with the trials, and the actors register it there."""
    import dataclasses

    from tests.unit.methods.toy_method import TOY

    from adaptune import methods

    toy = at.register_method(dataclasses.replace(TOY, name="nb_toy"))
    job = {
        "name": "nb",
        "method": "nb_toy",
        "data": {"source": "toy", "n_train": 64},
        "search": {
            "space": {"lr": optuna.distributions.FloatDistribution(0.01, 0.1, log=True)},
            "num_samples": 2,
            "scheduler": {"type": "fifo"},
        },
    }
    try:
        result = at.search(at.Job.from_dict(job), state_dir=tmp_path / "state")
    finally:
        methods.METHODS.pop(toy.name), methods._ORIGINS.pop(toy.name)
    assert result.completed == 2 and result.best is not None and "test/mse" in result.best.test


def test_the_python_example_runs_as_shipped(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    state = tmp_path / "example"
    script = ROOT / "examples" / "search_in_python.py"
    cmd = [sys.executable, str(script), "--state-dir", str(state), "--trials", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    import pandas as pd

    trials = pd.read_csv(state / "trials.csv")
    predictions = pd.read_csv(state / "predictions.csv")
    assert len(trials) == 2 and (state / "objective.png").stat().st_size > 1000
    from adaptune.methods.dao.loss import CLASS_NAMES

    assert len(predictions) == 2 and set(predictions["label"]) <= set(CLASS_NAMES)
