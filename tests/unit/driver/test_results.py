"""The search's decision (driver/results.py) on a ledger of plain trials, without Ray:
outcomes counted, the best completed trial by the objective, ties, none completed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tests.unit.driver.test_algorithm_plans import plan_of

from adaptune.driver.ledger import Ledger
from adaptune.driver.results import Decision, SearchSummary, decide
from adaptune.tracking.names import Status


def trial(tid: str, mse: float | None, epoch: int = 3, status: str = "TERMINATED") -> Any:
    result: dict[str, Any] = {"epoch": epoch, "epochs": 3}
    if mse is not None:
        result["val/mse"] = mse
    return SimpleNamespace(trial_id=tid, status=status, config={"lr": mse}, last_result=result)


def test_outcomes_are_counted_and_the_best_completed_trial_wins(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "")
    trials = [
        trial("a", 0.30),
        trial("b", 0.01, epoch=1),  # stopped by ASHA at epoch 1: its value is from epoch 1
        trial("c", 0.20),
        trial("d", None, epoch=2, status="ERROR"),
    ]
    ledger = Ledger(trials)
    ledger.entry("c").run_id = "run-c"
    d = decide(ledger, plan)
    assert (d.trials, d.completed, d.stopped, d.errored) == (4, 2, {"b": 1}, ["d"])
    assert (d.best_trial, d.best_value, d.best_params, d.best_run_id) == (
        "c",
        0.20,
        {"lr": 0.20},
        "run-c",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.best_trial = "a"  # type: ignore[misc]


def test_the_recorder_s_word_beats_the_trial_state_and_a_tie_keeps_the_first(
    tmp_path: Path,
) -> None:
    plan = plan_of(tmp_path, "")
    trials = [trial("a", 0.2), trial("b", 0.2), trial("c", 0.1)]
    ledger = Ledger()
    ledger.entry("c").status = Status.ERRORED  # the recorder saw c fail after its last epoch
    ledger.add(trials)
    d = decide(ledger, plan)
    assert (d.best_trial, d.completed, d.errored) == ("a", 2, ["c"])


def test_no_completed_trial_means_no_best_and_a_summary_that_says_so(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "")
    ledger = Ledger([trial("a", 0.5, epoch=1), trial("b", None, status="ERROR")])
    d = decide(ledger, plan)
    assert d == Decision(2, 0, {"a": 1}, ["b"])
    summary = SearchSummary(
        search="s", parent_run_id="r", tracking_uri="u", metric=plan.metric, mode=plan.mode,
        **dataclasses.asdict(d),
    )  # fmt: skip
    assert not any(line.startswith("best trial") for line in summary.lines())
    assert decide(Ledger(), plan) == Decision()


def test_a_max_objective_picks_the_largest(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "  metric: val/r2\n  mode: max")
    trials = [trial("a", None), trial("b", None)]
    trials[0].last_result["val/r2"], trials[1].last_result["val/r2"] = 0.4, 0.6
    assert decide(Ledger(trials), plan).best_trial == "b"
