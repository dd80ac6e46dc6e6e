"""Parameter importances: Optuna's fANOVA over the trials as MLflow recorded them.

    imp = importances(search, milestones(search))
    imp.values   # {param: share of the objective's variance}, empty with a note if not

ASHA stops most trials early, so trials' last values come from different epochs and
are not comparable. The importances use the objective at one epoch: the deepest rung
(or max_t) that ENOUGH_TRIALS trials reached, else the rung most trials reached (at least
MIN_TRIALS), so each trial counts once, at the same point of training.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from adaptune.job.space import parse_value
from adaptune.report.data import Search

__all__ = ["MIN_TRIALS", "Importance", "importances", "study_at"]

MIN_TRIALS = 4  # fewer and there is nothing to estimate
ENOUGH_TRIALS = 8  # a deeper rung is preferred once this many trials reached it


@dataclass
class Importance:
    values: dict[str, float] = field(default_factory=dict)
    epoch: int | None = None
    n_trials: int = 0
    evaluator: str = "fANOVA (optuna.importance.FanovaImportanceEvaluator, seed 0)"
    note: str = ""


def study_at(search: Search, epoch: int) -> Any:
    """An in-memory Optuna study: one COMPLETE trial per Tune trial that reported the
    objective at `epoch`, valued there, with the search's distributions."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize" if search.mode == "min" else "maximize")
    for t in search.trials:
        value = next((p.value for p in t.history if p.epoch == epoch), None)
        params = {k: parse_value(t.params.get(k, ""), d) for k, d in search.space.items()}
        if value is None or any(v is None for v in params.values()):
            continue
        try:
            trial = optuna.trial.create_trial(
                value=value, params=params, distributions=dict(search.space)
            )
        except ValueError:  # a value outside the recorded distribution
            continue
        study.add_trial(trial)
    return study


def _epoch_for(search: Search, rungs: list[int]) -> tuple[int | None, int]:
    """The deepest rung with ENOUGH_TRIALS reporting there; else the rung with the most
    (the deeper on a tie), if that is at least MIN_TRIALS. Returns (epoch, trials)."""
    counts = [
        (rung, sum(any(p.epoch == rung for p in t.history) for t in search.trials))
        for rung in rungs
    ]
    enough = [(rung, n) for rung, n in counts if n >= ENOUGH_TRIALS]
    if enough:
        return enough[-1]
    rung, n = max(counts, key=lambda c: (c[1], c[0]), default=(0, 0))
    return (rung, n) if n >= MIN_TRIALS else (None, n)


def importances(search: Search, rungs: list[int]) -> Importance:
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    names = list(search.space)
    if len(names) < 2:
        which = f" ({names[0]})" if names else ""
        return Importance(
            note=f"Only one parameter{which} was searched, so its importance is 1 by "
            "definition; its slice plot shows how the objective depends on it."
        )
    epoch, n = _epoch_for(search, rungs)
    if epoch is None:
        return Importance(
            n_trials=n,
            note=f"Too few trials for importances: at most {n} reported the objective at the "
            f"same rung, {MIN_TRIALS} are needed.",
        )
    study = study_at(search, epoch)
    imp = Importance(epoch=epoch, n_trials=len(study.trials))
    values = [t.value for t in study.trials]
    if len(study.trials) < MIN_TRIALS or len(set(values)) < 2:
        imp.note = (
            f"Too few usable trials at epoch {epoch} ({len(study.trials)}), or the objective "
            "did not vary between them."
        )
        return imp
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError) as e:
        imp.note = f"Optuna could not compute importances: {e}"
        return imp
    imp.values = {k: float(v) for k, v in raw.items()}
    kind = "the final epoch" if epoch == search.max_t else f"ASHA's rung at epoch {epoch}"
    imp.note = (
        f"{search.metric} at {kind}, over the {imp.n_trials} trials that reported it"
        f"{'; a rough estimate from few trials' if imp.n_trials < 10 else ''}."
    )
    return imp
