"""Search algorithms in the job: sampler options, schedulers, objectives, constraints, the
Pareto pick and conditional parameters are checked when the plan is made (bad ones name
file, line and key: tests/data/bad_specs covers one case each)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from tests.conftest import ROOT, write

from adaptune.job.algorithms import SAMPLER_OPTIONS, sampler_options
from adaptune.job.conditions import DefineByRun, active, load_conditions
from adaptune.job.objective import parse_bound
from adaptune.job.space import load_space
from adaptune.job.spec import SpecError, load_job
from adaptune.plan import make_plan

JOB = """\
name: t
method: {method}
data: {{source: {source}, n_train: 50}}
fixed: {{epochs: 3}}
search:
  space: space.yaml
  num_samples: 4
{search}
"""
DAO_SPACE = (
    "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n"
    "lora_rank: {type: categorical, choices: [4, 8]}\n"
    "dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true, when: {lora_rank: 8}}\n"
)


def plan_of(tmp_path: Path, search: str, method: str = "dao", space: str = DAO_SPACE) -> object:
    write(tmp_path / "space.yaml", space)
    source = {"dao": "synthetic-finsent", "mad": "digits-decathlon"}[method]
    text = JOB.format(method=method, source=source, search=search)
    return make_plan(load_job(write(tmp_path / "job.yaml", text)))


def problems(tmp_path: Path, search: str, **kw: str) -> list[str]:
    with pytest.raises(SpecError) as e:
        plan_of(tmp_path, search, **kw)
    return [str(p) for p in e.value.problems]


def test_sampler_options_reach_the_plan_checked_and_only_those_given() -> None:
    assert sampler_options("tpe", {"n_startup_trials": 3, "multivariate": True}) == {
        "n_startup_trials": 3,
        "multivariate": True,
    }
    assert sampler_options("random", {}) == {}
    # every option we accept is a keyword of the Optuna sampler it is passed to
    classes = {
        "tpe": optuna.samplers.TPESampler,
        "gp": optuna.samplers.GPSampler,
        "nsga2": optuna.samplers.NSGAIISampler,
        "cmaes": optuna.samplers.CmaEsSampler,
        "qmc": optuna.samplers.QMCSampler,
    }
    import inspect

    for name, cls in classes.items():
        takes = set(inspect.signature(cls.__init__).parameters)
        assert set(SAMPLER_OPTIONS[name].model_fields) <= takes, name


def test_unknown_and_wrong_options_are_refused_by_name(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "  sampler: gp\n  sampler_options: {n_startup_trials: 2, multivariate: true}"
    )
    assert len(found) == 1
    assert "job.yaml:9: search.sampler_options.multivariate: not an option of the gp" in found[0]
    assert "n_startup_trials" in found[0]  # what it does take


def test_hyperband_and_median_plans(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "  scheduler: {type: hyperband, reduction_factor: 3}")
    assert plan.job.the_search.scheduler.type == "hyperband"  # type: ignore[attr-defined]
    plan = plan_of(
        tmp_path, "  scheduler: {type: median, grace_period: 1, min_samples_required: 2}"
    )
    assert plan.max_t == 3  # type: ignore[attr-defined]
    found = problems(tmp_path, "  scheduler: {type: asha, min_samples_required: 2}")
    assert found == [
        f"{tmp_path / 'job.yaml'}:8: search.scheduler.min_samples_required: "
        "asha does not take min_samples_required (only median reads it)"
    ]


def test_a_multi_objective_plan_picks_on_the_front(tmp_path: Path) -> None:
    search = (
        "  sampler: nsga2\n  metric: [val/mse, val/acc]\n  mode: [min, max]\n"
        "  constraints: ['val/acc >= 0.3']\n"
        "promote: {pick: {metric: val/acc, constraint: 'val/mse <= 0.5'}}"
    )
    plan = plan_of(tmp_path, search)
    assert plan.objectives == (("val/mse", "min"), ("val/acc", "max"))  # type: ignore[attr-defined]
    assert (plan.metric, plan.mode) == ("val/acc", "max")  # type: ignore[attr-defined]
    assert plan.multi_objective  # type: ignore[attr-defined]
    single = plan_of(tmp_path, "")
    assert single.objectives == (("val/mse", "min"),)  # type: ignore[attr-defined]
    assert not single.multi_objective  # type: ignore[attr-defined]


def test_bounds_parse_and_measure_violation() -> None:
    b = parse_bound("val/params_adapter <= 2.5e5")
    assert (b.metric, b.op, b.value) == ("val/params_adapter", "<=", 250000.0)
    assert b.violation(1000.0) < 0 < b.violation(300000.0)
    assert parse_bound("val/acc>=0.5").violation(0.6) < 0
    for bad in ("val/acc > 0.5", "val/acc <= x", "<= 3", "val/acc <= inf"):
        with pytest.raises(ValueError):
            parse_bound(bad)


def test_conditions_load_and_define_by_run_samples_only_active_params() -> None:
    path = ROOT / "search_spaces" / "mad_pareto.yaml"
    space = load_space(path)
    conditions = load_conditions(path, space)
    assert conditions == {"rank": {"mode": ("mad",)}, "init_noise": {"rank": (4, 16, 64)}}
    define = DefineByRun(space, conditions)
    assert (
        define.order.index("mode") < define.order.index("rank") < define.order.index("init_noise")
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = []
    for _ in range(40):
        trial = study.ask()
        define(trial)
        p = trial.params
        seen.append(p)
        assert ("rank" in p) == (p["mode"] == "mad")
        assert ("init_noise" in p) == (p.get("rank") in (4, 16, 64))
        study.tell(trial, 0.0)
    assert {p["mode"] for p in seen} == {"mad", "bn_head", "finetune"}
    assert any("init_noise" in p for p in seen) and any(p.get("rank") == 0 for p in seen)
    full = {"mode": "bn_head", "rank": 4, "init_noise": 0.1, "lr": 0.1}
    assert define.sample_all(full) == {"mode": "bn_head", "lr": 0.1}
    assert active("rank", {"mode": "mad"}, conditions)
    assert not active("init_noise", {"mode": "bn_head"}, conditions)


def test_the_shipped_mad_space_gates_init_noise_on_a_factorised_rank() -> None:
    path = ROOT / "search_spaces" / "mad.yaml"
    conditions = load_conditions(path, load_space(path))
    assert conditions == {"init_noise": {"rank": (4, 8, 16, 36, 64)}}


def test_conditional_dao_space_plans(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "  sampler: tpe")
    assert plan.conditions == {"dao_lr": {"lora_rank": (8,)}}  # type: ignore[attr-defined]
