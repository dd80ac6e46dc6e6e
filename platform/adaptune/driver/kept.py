"""Which trials keep their checkpoint and get their model logged (``tracking.log_models``).

    kept = Kept(plan, kind)                    # in the search's recorder
    kept.ended(trial, status, trials)          # each trial's end: drop what no one reads
    kept.wanted(best_trial, trials)            # after the decision: whose model to log
    kept.drop_rest(trials, logged)             # after the logging: the search is done

A stopped or errored-out trial's checkpoint is never read again (a resume does not rerun
a terminated trial), and a seeded re-run's is scored, not served. A completed trial's
final checkpoint (its saved model) is read only to log its model: the chosen trial's
(``best``; what promotion and a next stage read), the top ``top_k`` by the objective, or
every one (``all``). The best so far can still lose its place, so the models are logged
after the decision; meanwhile a completed trial that falls out of the top k loses its
checkpoint at once, since the top k only gets harder to enter. A multi-objective search
picks its winner on a Pareto front, not by one metric: its completed trials keep their
checkpoints until the decision. A resumed search sees the trials finished before it
(Tune hands every trial of the experiment to the callback), so it ranks the same way.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

from adaptune.driver import pareto
from adaptune.driver.ledger import outcome_of
from adaptune.plan import Plan
from adaptune.tracking.names import Kind, Status
from adaptune.train import report as rk

__all__ = ["Kept", "checkpoint_of", "delete_checkpoint"]


def checkpoint_of(trial: Any) -> str | None:
    """The folder of the trial's newest checkpoint, as its last report named it."""
    path = (trial.last_result or {}).get(rk.CHECKPOINT_PATH)
    return str(path) if path else None


def delete_checkpoint(path: str) -> None:
    """Remove a checkpoint folder, local or on remote storage; a missing one is fine."""
    if "://" not in path:
        shutil.rmtree(path, ignore_errors=True)
        return
    from pyarrow.fs import FileSystem

    fs, inner = FileSystem.from_uri(path)
    with contextlib.suppress(OSError):  # FileNotFoundError included
        fs.delete_dir(inner)


class Kept:
    def __init__(self, plan: Plan, kind: str = Kind.TRIAL):
        self.metric, self.mode = plan.metric, plan.mode
        self.serves = kind == Kind.TRIAL  # re-runs are scored, never served
        policy = plan.job.tracking.log_models
        # How many completed trials by the objective keep theirs; None: every one.
        self.k: int | None = {"best": 1, "top_k": plan.job.tracking.top_k}.get(policy)
        # Several objectives or constraints: the winner is picked among the eligible
        # (driver/pareto.py), not by the objective alone, so nothing is ranked early.
        self.rank_early = self.k is not None and pareto.eligible(plan) is None
        self.dropped: set[str] = set()  # checkpoint folders removed

    def _drop(self, trial: Any) -> None:
        path = checkpoint_of(trial)
        if path and path not in self.dropped:
            delete_checkpoint(path)
            self.dropped.add(path)

    def _scored(self, trials: list[Any]) -> list[Any]:
        return [
            t
            for t in trials
            if outcome_of(t) is Status.COMPLETED
            and isinstance((t.last_result or {}).get(self.metric), int | float)
        ]

    def _top(self, completed: list[Any], k: int) -> list[Any]:
        """The k best by the objective; a tie with the k-th is kept too."""
        if not completed:
            return []
        value = lambda t: float(t.last_result[self.metric])  # noqa: E731
        ranked = self.mode.ranked(completed, key=value)
        cut = value(ranked[min(k, len(ranked)) - 1])
        return [t for t in ranked if not self.mode.better(cut, value(t))]

    def ended(self, trial: Any, status: Status, trials: list[Any]) -> None:
        """A trial ended: drop every checkpoint that can no longer be logged."""
        if status is not Status.COMPLETED or not self.serves:
            self._drop(trial)
            return
        if not self.rank_early or self.k is None:
            return
        done = [t for t in trials if t is trial or getattr(t, "status", "") == "TERMINATED"]
        scored = self._scored(done)
        top = {t.trial_id for t in self._top(scored, self.k)}
        for t in scored:
            if t.trial_id not in top:
                self._drop(t)

    def wanted(self, best_trial: str | None, trials: list[Any]) -> list[Any]:
        """The trials whose model is logged: the chosen one first, then the top k (or
        every completed trial), those whose checkpoint is still there."""
        if not self.serves:
            return []
        scored = self._scored(trials)
        chosen = [t for t in trials if t.trial_id == best_trial]
        rest = scored if self.k is None else self._top(scored, self.k) if self.k > 1 else []
        out: dict[str, Any] = {t.trial_id: t for t in [*chosen, *rest]}
        # those whose checkpoint is still there (remote storage: assumed so)
        return [
            t for t in out.values() if (p := checkpoint_of(t)) and ("://" in p or Path(p).is_dir())
        ]

    def drop_rest(self, trials: list[Any], keep: set[str]) -> None:
        """The search is over: every ended trial's checkpoint goes, but those in `keep`
        (a model that could not be logged yet: MLflow was down)."""
        for t in trials:
            ended = getattr(t, "status", "") in ("TERMINATED", "ERROR")
            if ended and t.trial_id not in keep:
                self._drop(t)
