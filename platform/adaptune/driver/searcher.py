"""The search's OptunaSearch: every objective, its constraints, a conditional space as
define-by-run, and the warm start's first trials.

    searcher = make_searcher(plan, sampler, warm=WarmStart(points=[...], rewards=None))

- A list of objectives gives Optuna a multi-objective study (OptunaSearch takes `metric`
  and `mode` lists); schedulers stop trials on the first objective only.
- Constraints (``search.constraints``: ``"val/params_adapter <= 250000"``) are set on each
  Optuna trial as it is told its result, with ``Trial.set_constraint`` (Optuna 5.0's
  replacement for the deprecated ``constraints_func``): TPE, GP and NSGA-II then prefer
  feasible trials. A trial that never reported the metric counts as infeasible.
- A space with ``when`` conditions is Optuna define-by-run (job/conditions.py).
- Warm start: ``points_to_evaluate`` are enqueued as the first trials; with
  ``evaluated_rewards`` (an earlier search over the same space and objective) they are
  told to the sampler as finished trials instead, and not re-trained.
- The study is stored in the search's study file (tracking/study.py), named after the
  search: optuna-dashboard shows it live. A trial a scheduler stopped is told as pruned,
  as Optuna's own pruners tell it (its value is its last epoch's), not as complete.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError
from ray.tune.result import TRAINING_ITERATION
from ray.tune.search.optuna import OptunaSearch

from adaptune.driver import upstream
from adaptune.driver.ledger import ran_every_epoch
from adaptune.job.conditions import DefineByRun
from adaptune.job.objective import Bound
from adaptune.plan import Plan
from adaptune.tracking.study import open_storage
from adaptune.train import report as rk

__all__ = ["ConstrainedOptunaSearch", "WarmStart", "make_searcher"]

INFEASIBLE = 1.0e12  # the constraint value of a trial that never reported its metric


@dataclass(frozen=True)
class WarmStart:
    """The first trials of a search: configs, and their values when they can be told."""

    source: str  # what they came from, for the progress line
    points: list[dict[str, Any]] = field(default_factory=list)
    rewards: list[float] | None = None  # same space and objective: told, not re-trained


class ConstrainedOptunaSearch(OptunaSearch):
    """OptunaSearch that sets each trial's constraint values before telling its result."""

    def __init__(self, *args: Any, bounds: tuple[Bound, ...] = (), **kwargs: Any):
        self._bounds = bounds
        super().__init__(*args, **kwargs)

    # A resumed search's searcher is Tune's last snapshot of it, but the study's store kept
    # what came after: a trial Tune restarts may have been told already. Optuna then
    # refuses updates to it, and its first result stands.

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        with contextlib.suppress(UpdateFinishedTrialError):  # see above
            super().on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        ot_trial = upstream.open_optuna_trial(self, trial_id)
        with contextlib.suppress(UpdateFinishedTrialError):  # see above
            if self._bounds and ot_trial is not None:
                for bound in self._bounds:
                    ot_trial.set_constraint(str(bound), _violation(bound, result or {}))
            if result and not error and _stopped(result) and isinstance(self.metric, str):
                # Tune hands the result a scheduler stopped on to on_trial_complete only:
                # it becomes the last intermediate value, the value Optuna gives a pruned
                # trial (told without a result, OptunaSearch tells it as pruned).
                _report(ot_trial, result.get(self.metric), result.get(TRAINING_ITERATION))
                result = None
        super().on_trial_complete(trial_id, result=result, error=error)


def _report(ot_trial: Any, value: Any, step: Any) -> None:
    if ot_trial is None or not isinstance(value, int | float) or not math.isfinite(value):
        return
    with warnings.catch_warnings():  # a step reported already keeps its value
        warnings.simplefilter("ignore")
        ot_trial.report(float(value), int(step or 0))


def _stopped(result: dict[str, Any]) -> bool:
    """A scheduler stopped the trial before its planned last epoch."""
    return bool(result.get(rk.EPOCHS)) and not ran_every_epoch(result)


def _violation(bound: Bound, result: dict[str, Any]) -> float:
    value = result.get(bound.metric)
    if not isinstance(value, int | float) or not math.isfinite(value):
        return INFEASIBLE
    return bound.violation(float(value))


def make_searcher(
    plan: Plan,
    sampler: Any,
    warm: WarmStart | None = None,
    *,
    study: str | None = None,
    name: str | None = None,
) -> OptunaSearch:
    """The search's searcher; its Optuna study `name` kept at the URL `study`, if given
    (else in memory)."""
    metric: str | list[str] = [m for m, _ in plan.objectives]
    mode: str | list[str] = [str(d) for _, d in plan.objectives]  # Ray asserts plain str
    if not plan.multi_objective:
        metric, mode = metric[0], mode[0]
    space: Any = DefineByRun(plan.space, plan.conditions) if plan.conditions else plan.space
    points, rewards = (warm.points, warm.rewards) if warm else ([], None)
    if warm and plan.conditions:  # define-by-run: only the parameters active in each point
        points = [space.sample_all(p) for p in points]
    return ConstrainedOptunaSearch(
        space=space,
        metric=metric,
        mode=mode,
        sampler=sampler,
        points_to_evaluate=points or None,
        evaluated_rewards=rewards if points and rewards else None,
        bounds=plan.bounds,
        storage=open_storage(study) if study else None,
        study_name=name,
    )
