"""The Tuner's parts a job names: Optuna samplers with their options, Ray schedulers, the
OptunaSearch with objectives, constraints, a define-by-run space and a warm start, and
the Pareto front that decides the winner (no Ray cluster: the objects are driven here)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
from tests.conftest import write

from adaptune.driver import pareto
from adaptune.driver.ledger import Ledger
from adaptune.driver.results import decide
from adaptune.driver.searcher import WarmStart, make_searcher
from adaptune.driver.tuner import make_sampler, make_scheduler
from adaptune.job.spec import load_job
from adaptune.plan import Plan, make_plan
from adaptune.tracking.names import Status
from adaptune.tracking.study import STUDY_FILE, study_url

JOB = """\
name: t
method: dao
data: {{source: synthetic-finsent, n_train: 50}}
fixed: {{epochs: 3}}
search:
  space: space.yaml
  num_samples: 4
{search}
"""
SPACE = (
    "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n"
    "lora_rank: {type: categorical, choices: [4, 8]}\n"
)


@pytest.fixture(autouse=True)
def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")


def plan_of(tmp_path: Path, search: str, space: str = SPACE) -> Plan:
    write(tmp_path / "space.yaml", space)
    return make_plan(load_job(write(tmp_path / "job.yaml", JOB.format(search=search))))


@pytest.mark.parametrize(
    ("search", "cls", "attrs"),
    [
        (
            "  sampler_options: {n_startup_trials: 3, multivariate: true, group: true}",
            optuna.samplers.TPESampler,
            {"_n_startup_trials": 3, "_multivariate": True, "_group": True},
        ),
        (
            "  sampler: gp\n  sampler_options: {n_startup_trials: 2}",
            optuna.samplers.GPSampler,
            {"_n_startup_trials": 2},
        ),
        (
            "  sampler: nsga2\n  sampler_options: {population_size: 4, crossover: sbx}",
            optuna.samplers.NSGAIISampler,
            {},
        ),
        ("  sampler: qmc\n  sampler_options: {qmc_type: halton}", optuna.samplers.QMCSampler, {}),
    ],
)
def test_the_sampler_gets_its_options(
    tmp_path: Path, search: str, cls: type, attrs: dict[str, Any]
) -> None:
    sampler = make_sampler(plan_of(tmp_path, search))
    assert type(sampler) is cls
    for name, value in attrs.items():
        assert getattr(sampler, name) == value


def test_a_small_search_starts_tpe_after_3_random_trials(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "")
    assert make_sampler(plan)._n_startup_trials == 3  # 4 trials
    large = dataclasses.replace(plan, num_samples=64)
    assert make_sampler(large)._n_startup_trials == 10  # Optuna's default
    given = "  sampler_options: {n_startup_trials: 7}"
    assert make_sampler(plan_of(tmp_path, given))._n_startup_trials == 7


def test_gp_sampler_runs_with_the_pinned_optuna(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "  sampler: gp\n  sampler_options: {n_startup_trials: 2}")
    searcher = make_searcher(plan, make_sampler(plan))
    for i in range(4):  # past the start-up trials: the GP itself proposes
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"val/mse": config["lr"] * 100})
    assert len(searcher._ot_study.trials) == 4


def test_schedulers_stop_on_the_first_objective(tmp_path: Path) -> None:
    from ray.tune.schedulers import (
        AsyncHyperBandScheduler,
        HyperBandScheduler,
        MedianStoppingRule,
    )

    multi = "  metric: [val/acc, val/mse]\n  mode: [max, min]\n"
    for kind, cls in (
        ("asha", AsyncHyperBandScheduler),
        ("hyperband", HyperBandScheduler),
        ("median", MedianStoppingRule),
    ):
        sched = make_scheduler(plan_of(tmp_path, f"{multi}  scheduler: {{type: {kind}}}"))
        assert type(sched) is cls
        assert (sched._metric, sched._mode) == ("val/acc", "max")
        assert sched._time_attr == "epoch"


def test_the_study_is_stored_and_a_stopped_trial_is_pruned(tmp_path: Path) -> None:
    """The study lives in the search's study file under the search's name (what
    optuna-dashboard reads); a trial stopped at epoch 1 of 3 is pruned with its last value,
    one that ran every epoch is complete."""
    plan = plan_of(tmp_path, "")
    url = study_url("sqlite:///" + str(tmp_path / "mlflow.db"), tmp_path / "elsewhere")
    assert url == f"sqlite:///{tmp_path / STUDY_FILE}"  # beside the SQLite MLflow store
    searcher = make_searcher(plan, make_sampler(plan), study=url, name="s-1")
    for trial_id, epochs in (("stopped", 2), ("full", 3)):
        searcher.suggest(trial_id)
        for epoch in range(1, epochs + 1):
            result = {"val/mse": 1.0 / epoch, "epoch": epoch, "epochs": 3}
            result["training_iteration"] = epoch
            if epoch < epochs:  # Tune hands the result it stops a trial on to completion only
                searcher.on_trial_result(trial_id, result)
        searcher.on_trial_complete(trial_id, result)
    study = optuna.load_study(study_name="s-1", storage=url)
    assert [(t.state.name, t.value) for t in study.trials] == [
        ("PRUNED", 0.5),
        ("COMPLETE", pytest.approx(1 / 3)),
    ]
    assert study.trials[0].intermediate_values == {1: 1.0, 2: 0.5}
    assert study.trials[1].intermediate_values == {1: 1.0, 2: 0.5}  # its last: its value
    assert study_url("http://127.0.0.1:5000", tmp_path) == f"sqlite:///{tmp_path / STUDY_FILE}"


def test_constraints_are_set_on_every_told_trial(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        "  metric: [val/mse, val/acc]\n  mode: [min, max]\n  constraints: ['val/acc >= 0.5']",
    )
    searcher = make_searcher(plan, make_sampler(plan))
    for i, acc in enumerate((0.7, 0.2)):
        searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"val/mse": 0.1, "val/acc": acc})
    searcher.suggest("t2")  # never reported val/acc: infeasible
    searcher.on_trial_complete("t2", {"val/mse": 0.1})
    trials = searcher._ot_study.trials
    assert [t.values for t in trials[:2]] == [[0.1, 0.7], [0.1, 0.2]]
    assert trials[0].constraints == {"val/acc >= 0.5": pytest.approx(-0.2)}
    assert trials[1].constraints == {"val/acc >= 0.5": pytest.approx(0.3)}
    assert trials[2].constraints["val/acc >= 0.5"] > 1e9


def test_warm_start_points_are_enqueued_or_told(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "")
    points = [{"lr": 1e-4, "lora_rank": 8}, {"lr": 2e-4, "lora_rank": 4}]
    enqueued = make_searcher(plan, make_sampler(plan), WarmStart("s", points))
    assert [enqueued.suggest(f"t{i}") for i in range(2)] == points
    told = make_searcher(plan, make_sampler(plan), WarmStart("s", points, [0.3, 0.2]))
    done = told._ot_study.trials
    assert [t.params for t in done] == points and [t.value for t in done] == [0.3, 0.2]
    told.suggest("t0")  # the sampler goes on from the told trials: nothing re-runs
    assert len(told._ot_study.trials) == 3


def test_warm_start_into_a_conditional_space_keeps_active_params(tmp_path: Path) -> None:
    space = (
        SPACE
        + "dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true, when: {lora_rank: 8}}\n"
    )
    plan = plan_of(tmp_path, "", space)
    full = {"lr": 1e-4, "lora_rank": 4, "dao_lr": 1e-3}
    searcher = make_searcher(plan, make_sampler(plan), WarmStart("s", [full]))
    assert searcher.suggest("t0") == {"lr": 1e-4, "lora_rank": 4}


def trial(tid: str, **result: float) -> Any:
    epochs = int(result.pop("epoch", 3))
    return SimpleNamespace(
        trial_id=tid,
        status="TERMINATED",
        config={"lr": 1e-4},
        last_result={**result, "epoch": epochs, "epochs": 3, "time_total_s": 1.0},
    )


def test_the_winner_is_picked_on_the_feasible_front(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        "  metric: [val/acc, val/mse]\n  mode: [max, min]\n  constraints: ['val/r2 >= 0']\n"
        "promote: {pick: {metric: val/acc, constraint: 'val/mse <= 0.3'}}",
    )
    trials = [
        trial("a", **{"val/acc": 0.9, "val/mse": 0.5, "val/r2": 0.1}),  # front, fails pick
        trial("b", **{"val/acc": 0.8, "val/mse": 0.2, "val/r2": 0.1}),  # front: picked
        trial("c", **{"val/acc": 0.7, "val/mse": 0.1, "val/r2": 0.1}),  # front
        trial("d", **{"val/acc": 0.6, "val/mse": 0.3, "val/r2": 0.1}),  # dominated by b
        trial("e", **{"val/acc": 0.95, "val/mse": 0.05, "val/r2": -1}),  # infeasible
        trial("f", **{"val/acc": 0.99, "val/mse": 0.01, "val/r2": 1, "epoch": 1}),  # stopped
    ]
    ledger = Ledger(trials)
    decision = decide(ledger, plan)
    assert decision.best_trial == "b" and decision.best_value == 0.8
    outcomes = ledger.outcomes()
    rows = {r["trial_id"]: r for r in pareto.front_rows(plan, trials, outcomes)}
    assert {k for k, r in rows.items() if r["on_front"]} == {"a", "b", "c"}
    assert not rows["e"]["feasible"] and rows["f"]["status"] == "stopped"


def test_pareto_record_writes_csv_png_and_a_tag_per_trial(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "  metric: [val/acc, val/mse]\n  mode: [max, min]")
    trials = [
        trial("a", **{"val/acc": 0.9, "val/mse": 0.5}),
        trial("b", **{"val/acc": 0.8, "val/mse": 0.6}),
    ]
    outcomes = {"a": Status.COMPLETED, "b": Status.COMPLETED}

    class Box:
        def has(self, trial_id: str) -> bool:
            return True

        def write(self, lane: str, what: str, fn: Any) -> None:
            fn(lane)

    tags: dict[str, str] = {}
    client = SimpleNamespace(set_tag=lambda run, key, value: tags.__setitem__(run, value))
    out = tmp_path / "report"
    out.mkdir()
    front = pareto.record(plan, client, Box(), trials, outcomes, str(out), "a")
    assert front == ["a"] and tags == {"a": "true", "b": "false"}
    assert (out / "pareto.png").stat().st_size > 0
    lines = (out / "pareto.csv").read_text().splitlines()
    assert lines[0].startswith("trial_id,status,val/acc,val/mse,feasible,on_front")
    assert lines[1].startswith("a,completed,0.9,0.5,True,True")
