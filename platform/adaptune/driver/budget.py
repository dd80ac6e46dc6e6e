"""A search's budget and stop rules, watched while its trials run (job/budget.py's keys).

    watch = watch_for(plan, started, pricer, ledger, recorder.show.progress)  # None: none set
    tuner = make_tuner(..., [recorder, watch, ...], stop=watch)   # a Tune Callback and Stopper
    grid = tuner.fit()
    if watch and watch.rule:
        trials = settle(recorder, watch, trials)   # the stopped trials' runs say by what

Tune asks the Stopper's ``stop_all`` at every step of its loop; once a budget is spent or
a rule fired it says yes, and Tune starts no new trial and stops the running ones. The
search is not interrupted (that is driver/interrupt.py's, for a signal or a full disk,
and leaves it resumable): it ends, and the driver decides, re-runs and promotes as usual
on the trials that finished. The spend is the cost ledger's (driver/cost.py): the ended
trials' cost, and each running trial's wall time so far at its price.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlflow.entities import RunTag
from ray.tune import Callback, Stopper

from adaptune.driver.console import Progress, say
from adaptune.driver.cost import Pricer, TrialCost
from adaptune.driver.ledger import Ledger
from adaptune.driver.presenter import run_name
from adaptune.driver.recorder import SEARCH_RUN
from adaptune.driver.results import decide
from adaptune.job.budget import rule_text
from adaptune.job.pricing import dollars
from adaptune.plan import Plan
from adaptune.tracking.names import Status, Tag
from adaptune.train import report as rk

__all__ = ["Watch", "settle", "watch_for"]

ENDED = ("TERMINATED", "ERROR")  # Tune's states of a trial that will not run again
_MONEY = ("usd", "gpu_hours", "cpu_hours")


class _Spent(Callback, Stopper):
    """What a Watch is once pickled with Tune's state: it stops nothing (a restored
    search gets this session's watch)."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return False


class Watch(_Spent):
    """Tells Tune to end the search when a budget is spent or a stop rule fires; `rule`
    ("" until then) names it, `key` is its job key, `cut` the trials it stopped."""

    def __init__(
        self,
        plan: Plan,
        started: float,
        pricer: Pricer,
        ledger: Ledger,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        s = plan.job.the_search
        self.plan, self.pricer, self.ledger, self.progress = plan, pricer, ledger, progress
        self.started, self.clock = started, clock
        self.limits = s.budget.limits() if s.budget else {}
        self.target = s.stop_when.objective if s.stop_when else None
        self.patience = s.stop_when.no_improvement_trials if s.stop_when else None
        self.rule, self.key = "", ""
        self.cut: set[str] = set()  # unfinished when the rule fired
        self.live: set[str] = set()  # trials not ended (pending, running, paused)
        self.trials: list[Any] = []  # Tune's, as of its last step
        self.begun: dict[str, float] = {}  # trial id -> clock() when it started here
        self.done: dict[str, Any] = {}  # ended trials, not errored (for the best)
        self.best: float | None = None
        self.streak = 0  # trials ended in a row without a better best, once there is one
        self.checked = -1.0e9

    def __reduce__(self) -> tuple[Any, ...]:  # pickled with Tune's state: nothing live
        return (_Spent, ())

    # -- Tune's callbacks: what ended, what runs
    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        if not self.trials:  # a resumed search: the trials that ended before count
            ended = [t for t in trials if t.status == "TERMINATED" and t.last_result]
            self.done.update((t.trial_id, t) for t in ended)
            self.best = self._best()
        self.trials = trials
        self.live = {t.trial_id for t in trials if t.status not in ENDED}

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.begun[trial.trial_id] = self.clock()
        self.live.add(trial.trial_id)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.done[trial.trial_id] = trial
        self.ended(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.ended(trial.trial_id)

    def ended(self, trial_id: str) -> None:
        """A trial ended: the objective's target and the improvement streak are checked."""
        self.live.discard(trial_id)
        best = self._best()
        if best is not None and (self.best is None or self.plan.mode.better(best, self.best)):
            self.best, self.streak = best, 0
        elif self.best is not None:
            self.streak += 1
        target, best = self.target, self.best
        if target is not None and best is not None and not self.plan.mode.better(target, best):
            self.fire("objective", target, "stop_when.objective")  # reached, or bettered
        if self.patience is not None and self.streak >= self.patience:
            self.fire("no_improvement_trials", self.patience, "stop_when.no_improvement_trials")

    def _best(self) -> float | None:
        """The best completed (and eligible) trial's value: the decision's own rule."""
        return decide(Ledger(list(self.done.values())), self.plan).best_value

    # -- Tune's Stopper
    def stop_all(self) -> bool:
        if self.rule:
            return True
        now = self.clock()
        wall = self.limits.get("wall")
        if wall is not None and now - self.started >= wall:
            self.fire("wall", wall, "budget.wall")
        elif any(k in self.limits for k in _MONEY) and now - self.checked >= 1.0:
            self.checked = now
            spent, projected = self.spend(now)
            self.show(spent, projected)
            for k in _MONEY:
                if k in self.limits and spent[k] >= self.limits[k]:
                    self.fire(k, self.limits[k], f"budget.{k}")
                    break
        return bool(self.rule)

    def fire(self, name: str, value: float, key: str) -> None:
        if not self.rule:  # the first rule stands
            self.rule, self.key, self.cut = rule_text(name, value), key, set(self.live)

    def spend(self, now: float) -> tuple[dict[str, float], dict[str, float]]:
        """({"usd", "gpu_hours", "cpu_hours"} spent so far, ... once the running trials
        end): the ended trials' costs, the running ones' hours since they started."""
        spent = dict.fromkeys(_MONEY, 0.0)
        projected = dict.fromkeys(_MONEY, 0.0)
        for t in self.trials:
            result = dict(t.last_result or {})
            e = self.ledger.entries.get(t.trial_id)
            if t.status in ENDED or (e is not None and e.status is not None):
                cost = e.cost if e is not None and e.cost is not None else None
                cost = cost or self.pricer.cost(result, stopped=False)
                _add(spent, cost, 1.0)
                _add(projected, cost, 1.0)
            elif t.trial_id in self.begun or result:
                so_far = now - self.begun.get(t.trial_id, now)
                result[rk.TIME_TOTAL_S] = max(float(result.get(rk.TIME_TOTAL_S) or 0), so_far)
                cost = self.pricer.cost(result, stopped=False)
                _add(spent, cost, 1.0)
                epoch = int(result.get(rk.EPOCH) or 0)
                end = min(int(result.get(rk.EPOCHS) or self.plan.max_t), self.plan.max_t)
                _add(projected, cost, end / epoch if epoch else 1.0)
        return spent, projected

    def show(self, spent: dict[str, float], projected: dict[str, float]) -> None:
        """The progress line's spend: "spent $0.0123 of $20 (~$0.0310 once running
        trials end)" for each budget of money or hours."""
        if self.progress is None:
            return
        parts = []
        for k in _MONEY:
            if k in self.limits:
                ahead = f" (~{_amount(k, projected[k])} once running trials end)"
                more = projected[k] > spent[k] + 1e-12
                parts.append(
                    f"spent {_amount(k, spent[k])} of {_amount(k, self.limits[k])}"
                    + (ahead if more else "")
                )
        self.progress.spend = "; ".join(parts)


def _amount(key: str, value: float) -> str:
    """$0.0123, or 0.25 GPU-h / CPU-h."""
    return dollars(value) if key == "usd" else f"{value:.3g} {key[:3].upper()}-h"


def _add(into: dict[str, float], cost: TrialCost, scale: float) -> None:
    into["usd"] += cost.usd * scale
    into["gpu_hours"] += cost.resource_hours.get("GPU", 0.0) * scale
    into["cpu_hours"] += cost.resource_hours.get("CPU", 0.0) * scale


def watch_for(
    plan: Plan, started: float, pricer: Pricer, ledger: Ledger, progress: Progress | None
) -> Watch | None:
    """The search's watch, or None when it has neither a budget nor a stop rule."""
    s = plan.job.the_search
    if s.budget is None and s.stop_when is None:
        return None
    return Watch(plan, started, pricer, ledger, progress)


def settle(recorder: Any, watch: Watch, trials: list[Any]) -> list[Any]:
    """After Tune's loop ended on `watch.rule`: the trials it stopped are recorded as
    stopped by that rule (status stopped, not failed nor interrupted; their runs
    FINISHED), the search run is tagged with it, and the trials that never started are
    left out. Returns the trials the search counts."""
    kept = []
    for t in trials:
        ran = bool((t.last_result or {}).get(rk.EPOCH)) or recorder.box.has(t.trial_id)
        e = recorder.ledger.entries.get(t.trial_id)
        if t.trial_id in watch.cut and ran and (e is None or e.status is None):
            _stopped(recorder, watch, t)
        if ran or (e is not None and e.status is not None):
            kept.append(t)
    key = watch.key
    recorder.box.write(
        SEARCH_RUN, "ended_by tag", lambda r: recorder.client.set_tag(r, Tag.ENDED_BY, key)
    )
    stopped = sum(t.trial_id in watch.cut for t in kept)
    say(f"search ended by {watch.rule}: no new trial started, {stopped} running stopped")
    return kept


def _stopped(recorder: Any, watch: Watch, trial: Any) -> None:
    """One trial the rule stopped: its ledger entry, cost, run tags, name and end."""
    trial_id, box = trial.trial_id, recorder.box
    epoch = int((trial.last_result or {}).get(rk.EPOCH) or 0)
    entry = recorder.ledger.entry(trial_id)
    entry.trial, entry.status = entry.trial or trial, Status.STOPPED
    text = f"stopped by {watch.rule} at epoch {epoch}"
    _, note, words = recorder.show.ended(trial_id, Status.STOPPED, text, epoch)
    name = run_name(trial_id, Status.STOPPED, epoch)
    if box.has(trial_id):
        tags = {
            Tag.STATUS: Status.STOPPED,
            Tag.STATUS_TEXT: text,
            Tag.STOPPED_AT: epoch,
            Tag.ENDED_BY: watch.key,
            Tag.NOTE: note,
        }
        batch = [RunTag(k, str(v)) for k, v in tags.items()]
        client = recorder.client
        box.write(trial_id, "status tag", lambda r: client.log_batch(r, tags=batch))
        recorder.cost(trial, Status.STOPPED, epoch)
        box.write(trial_id, "run name", lambda r: client.update_run(r, name=name))
        box.write(trial_id, "run end", lambda r: client.set_terminated(r, "FINISHED"))
    say(f"{trial_id} {words}")
