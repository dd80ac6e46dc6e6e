"""The budget and stop rules' watch (driver/budget.py), driven as Tune drives it: its
callbacks with trials, its Stopper's stop_all at every step, on a clock of our own.

The spec side (durations, refusals) is tests/unit/job/test_budget_spec.py and the
bad_specs corpus; a real search ended by each kind of rule is
tests/integration/test_budget.py."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ray.tune import Stopper
from tests.conftest import write

from adaptune.driver.budget import Watch, watch_for
from adaptune.driver.console import Progress
from adaptune.driver.cost import Pricer
from adaptune.driver.ledger import Ledger
from adaptune.job.spec import load_job
from adaptune.plan import Plan, make_plan
from adaptune.train import report as rk

JOB = """\
name: t
method: dao
data: {{source: synthetic-finsent, n_train: 50}}
fixed: {{epochs: 2}}
search:
  space: space.yaml
  num_samples: 20
  {rules}
pricing: {{usd_per_cpu_hour: 3.6, usd_per_gpu_hour: 36}}
"""


@dataclass
class Trial:
    """What the watch reads of a Tune trial."""

    trial_id: str
    status: str = "PENDING"
    last_result: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def plan_of(tmp_path: Path, rules: str) -> Plan:
    write(tmp_path / "space.yaml", "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n")
    return make_plan(load_job(write(tmp_path / "job.yaml", JOB.format(rules=rules))))


def watch(tmp_path: Path, rules: str, clock: Clock) -> tuple[Watch, Progress]:
    plan = plan_of(tmp_path, rules)
    progress = Progress(total=plan.num_samples, max_t=plan.max_t)
    pricer = Pricer(plan.job.pricing, {"CPU": 1.0}, plan.max_t)
    return Watch(plan, clock(), pricer, Ledger(), progress, clock=clock), progress


def done(trial: Trial, mse: float, epoch: int = 2) -> Trial:
    trial.status = "TERMINATED"
    trial.last_result = {rk.EPOCH: epoch, rk.EPOCHS: 2, "val/mse": mse, rk.TIME_TOTAL_S: 60.0}
    return trial


def test_without_budget_or_rules_there_is_no_watch(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "seed: 0")
    assert watch_for(plan, 0.0, Pricer(plan.job.pricing, {}, 2), Ledger(), None) is None


def test_the_wall_budget_stops_every_trial_not_ended(tmp_path: Path) -> None:
    clock = Clock()
    w, _ = watch(tmp_path, "budget: {wall: 2m}", clock)
    a, b, c = Trial("a", "RUNNING"), Trial("b", "RUNNING"), Trial("c")
    w.on_step_begin(0, [a, b, c])
    w.on_trial_complete(0, [a, b, c], done(a, 0.3))
    clock.now += 119
    assert not w.stop_all() and w.rule == ""
    clock.now += 1
    assert w.stop_all() and w.stop_all()  # and it stays so
    assert (w.rule, w.key, w.cut) == ("budget.wall (2m)", "budget.wall", {"b", "c"})


def test_money_and_hours_are_the_ledgers_plus_the_running_trials_so_far(tmp_path: Path) -> None:
    clock = Clock()  # 1 CPU at $3.6 an hour: $0.001 a second
    w, progress = watch(tmp_path, "budget: {usd: 0.2, cpu_hours: 10}", clock)
    a, b = Trial("a", "RUNNING"), Trial("b", "RUNNING")
    w.on_step_begin(0, [a, b])
    w.on_trial_start(0, [a, b], a)
    w.on_trial_start(0, [a, b], b)
    clock.now += 50
    b.last_result = {rk.EPOCH: 1, rk.EPOCHS: 2, rk.TIME_TOTAL_S: 50.0}
    assert not w.stop_all()  # $0.10 spent; b, halfway, is heading for $0.10 alone
    spent, projected = w.spend(clock.now)
    assert spent["usd"] == pytest.approx(0.1) and projected["usd"] == pytest.approx(0.15)
    assert spent["cpu_hours"] == pytest.approx(100 / 3600)
    assert "spent $0.1000 of $0.2000 (~$0.1500 once running trials end)" in progress.spend
    assert "CPU-h of 10 CPU-h" in progress.spend
    assert "spent $" in progress.line(60.0)  # on the progress line
    w.on_trial_complete(0, [a, b], done(a, 0.3))  # a ended at 60 s by its result
    clock.now += 0.5
    assert not w.stop_all()  # checked at most once a second
    clock.now += 80
    assert not w.stop_all()  # a's $0.06 (its 60 s) + b's $0.1305 (130.5 s so far)
    clock.now += 10
    assert w.stop_all()  # ... + 10 s more: $0.2005
    assert (w.key, w.cut) == ("budget.usd", {"b"})
    assert w.rule == "budget.usd ($0.2)"


def test_the_objective_target_fires_on_a_completed_trial_reaching_it(tmp_path: Path) -> None:
    w, _ = watch(tmp_path, "stop_when: {objective: 0.12}", Clock())  # val/mse: min
    trials = [Trial(str(i), "RUNNING") for i in range(4)]
    w.on_step_begin(0, trials)
    bad = done(trials[0], 0.05, epoch=1)  # stopped at epoch 1: no completed trial
    w.on_trial_complete(0, trials, bad)
    w.on_trial_complete(0, trials, done(trials[1], 0.2))
    assert not w.stop_all()
    w.on_trial_complete(0, trials, done(trials[2], 0.12))  # as good as the target: reached
    assert w.stop_all()
    assert (w.rule, w.cut) == ("stop_when.objective (0.12 reached)", {"3"})


def test_no_improvement_counts_ended_trials_in_a_row_once_one_completed(tmp_path: Path) -> None:
    w, _ = watch(tmp_path, "stop_when: {no_improvement_trials: 3}", Clock())
    trials = [Trial(str(i), "RUNNING") for i in range(9)]
    w.on_step_begin(0, trials)
    w.on_trial_error(0, trials, trials[0])  # no best yet: not counted
    w.on_trial_complete(0, trials, done(trials[1], 0.5))  # the first best
    w.on_trial_complete(0, trials, done(trials[2], 0.6))  # 1
    w.on_trial_complete(0, trials, done(trials[3], 0.4))  # better: 0
    w.on_trial_complete(0, trials, done(trials[4], 0.4))  # equal is no better: 1
    w.on_trial_error(0, trials, trials[5])  # 2
    assert not w.stop_all() and w.streak == 2
    w.on_trial_complete(0, trials, done(trials[6], 0.1, epoch=1))  # stopped early: 3
    assert w.stop_all()
    assert w.rule == "stop_when.no_improvement_trials (3 trials without a better one)"
    assert w.cut == {"7", "8"} and w.best == pytest.approx(0.4)


def test_a_resumed_search_counts_the_trials_that_ended_before(tmp_path: Path) -> None:
    w, _ = watch(tmp_path, "stop_when: {objective: 0.3}", Clock())
    before = done(Trial("old"), 0.4)
    w.on_step_begin(0, [before, Trial("new", "RUNNING")])
    assert w.best == pytest.approx(0.4) and w.live == {"new"}
    w.on_trial_complete(0, [], done(Trial("new"), 0.29))
    assert w.stop_all()


def test_pickled_with_tunes_state_it_stops_nothing(tmp_path: Path) -> None:
    clock = Clock()
    w, _ = watch(tmp_path, "budget: {wall: 1}", clock)
    clock.now += 5
    assert w.stop_all()
    copy = pickle.loads(pickle.dumps(w))
    assert isinstance(copy, Stopper) and not isinstance(copy, Watch)
    assert not copy.stop_all() and not copy("t", {})
