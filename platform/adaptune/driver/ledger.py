"""What happened to each trial of a search, recorded once: plain values, no MLflow.

    ledger = Ledger()                   # handed to the search's recorder, which fills it
    entry = ledger.entry(trial_id)      # status, run id, model URI, cost, test, nodes
    ledger.add(grid_trials)             # after fit: the trials finished before a resume
    ledger.trials(); ledger.status(trial_id)

The recorder (driver/recorder.py) writes MLflow and fills this as Tune reports; the
decision (results.decide), the cost totals (cost.totals), the seeded re-runs and the end
of the search (finish.py) read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adaptune.tracking.names import Status
from adaptune.train import report as rk

if TYPE_CHECKING:
    from adaptune.driver.cost import TrialCost

__all__ = ["Entry", "Ledger", "outcome_of"]


def outcome_of(trial: Any, errored: bool = False) -> Status:
    """completed | stopped | errored, from a Tune trial: completed when it ran every epoch
    of its config, stopped (by the scheduler) when it reported fewer."""
    if errored or getattr(trial, "status", None) == "ERROR":
        return Status.ERRORED
    return Status.COMPLETED if ran_every_epoch(trial.last_result) else Status.STOPPED


def ran_every_epoch(result: dict[str, Any] | None) -> bool:
    """A trial's last result is its planned last epoch (else a scheduler stopped it)."""
    r = result or {}
    return bool(r.get(rk.EPOCHS)) and r.get(rk.EPOCH, 0) >= r[rk.EPOCHS]


@dataclass
class Entry:
    trial: Any = None  # the Tune trial (None: a resumed run whose trial has not started)
    status: Status | None = None  # None while it runs
    run_id: str | None = None  # its MLflow run, once created
    model_uri: str | None = None  # its logged model
    cost: TrialCost | None = None  # priced when it ended (driver/cost.py)
    test: dict[str, float] = field(default_factory=dict)  # test/<metric>, once scored
    nodes: list[str] = field(default_factory=list)  # the nodes it ran on, in order


class Ledger:
    def __init__(self, trials: list[Any] | None = None):
        self.entries: dict[str, Entry] = {}
        self.add(trials or [])

    def entry(self, trial_id: str) -> Entry:
        return self.entries.setdefault(trial_id, Entry())

    def add(self, trials: list[Any]) -> None:
        """Trials Tune kept whose end the recorder did not see (ended before a resume):
        their outcome is read from their state."""
        for t in trials:
            e = self.entry(t.trial_id)
            e.trial = e.trial or t
            e.status = e.status or outcome_of(t)

    def trials(self) -> list[Any]:
        return [e.trial for e in self.entries.values() if e.trial is not None]

    def status(self, trial_id: str) -> Status:
        e = self.entries.get(trial_id)
        return (e.status if e else None) or Status.ERRORED

    def outcomes(self) -> dict[str, Status]:
        return {k: e.status for k, e in self.entries.items() if e.status is not None}
