"""A search's results, decided once: the best trial, and the summary everyone reads.

    decision = decide(ledger, plan)                  # frozen: counts and the best trial
    summary = SearchSummary(...)                     # built once, in driver/finish.py

The summary printed, the champion promoted and the report all read this decision: the
best trial is tagged on the search run (``Tag.BEST_TRIAL``), and promotion promotes that
trial or nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from adaptune.driver import pareto
from adaptune.driver.cost import Spend
from adaptune.driver.ledger import Ledger
from adaptune.job.pricing import dollars
from adaptune.method import test_name
from adaptune.plan import Plan
from adaptune.redact import scrub
from adaptune.tracking.names import Status
from adaptune.train import report as rk

__all__ = ["Decision", "SearchSummary", "chosen", "cost_line", "decide", "scored", "short"]


@dataclass(frozen=True)
class Decision:
    """Each trial's outcome counted, and the best completed trial (None: no trial
    completed)."""

    trials: int = 0
    completed: int = 0
    stopped: dict[str, int] = field(default_factory=dict)  # trial id -> epoch stopped at
    errored: list[str] = field(default_factory=list)
    best_trial: str | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_run_id: str | None = None
    # search.finalists: per finalist its trial, n, mean val, ci95, p_best, values
    finalists: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SearchSummary(Spend, Decision):
    """What a search did: its decision and spend (the fields of both), and the rest."""

    search: str
    parent_run_id: str
    tracking_uri: str
    metric: str
    mode: str
    best_model_uri: str | None = None
    wall_s: float = 0.0
    promotion: Any = None
    # What could not be written to MLflow by the end (it was down): one line per run.
    unrecorded: list[str] = field(default_factory=list)
    mlflow_writes: dict[str, Any] = field(default_factory=dict)  # the outbox's counts
    # The chosen trial's score on the held-out test split (test/<metric>), and the seeded
    # re-runs of its config (driver/final.py): per test metric and the val objective
    # {mean, std, ci95, n}.
    test: dict[str, float] = field(default_factory=dict)
    final: dict[str, dict[str, float]] = field(default_factory=dict)
    reruns: list[dict[str, Any]] = field(default_factory=list)  # one row per seed
    # A multi-objective search: its objectives ("metric (mode)") and the trials on its
    # Pareto front (driver/pareto.py); the best trial is the one picked on the front.
    objectives: list[str] = field(default_factory=list)
    front: list[str] = field(default_factory=list)
    # Bytes the search left on disk: "ray" (its Ray storage), "artifacts" (MLflow's, for
    # a local artifact store: its runs' and its logged models'); driver/disk.py.
    disk: dict[str, int] = field(default_factory=dict)
    # The budget or stop rule that ended the search before num_samples ("budget.wall
    # (30m)"; driver/budget.py); "" when it ran every trial.
    ended_by: str = ""

    def lines(self) -> list[str]:
        out = [
            f"search {self.search}: {self.trials} trials in {self.wall_s / 60:.1f} min — "
            f"{self.completed} completed, {len(self.stopped)} stopped early, "
            f"{len(self.errored)} errored"
            + (f"; ended by {self.ended_by}" if self.ended_by else "")
        ]
        if self.best_trial:
            params = ", ".join(f"{k}={short(v)}" for k, v in self.best_params.items())
            out.append(
                f"best trial {self.best_trial}: {self.metric}={self.best_value:.6g} "
                f"({self.mode})  {params}"
            )
            out.extend(self._honest_lines())
        if self.finalists:
            out.append(f"finalists by mean {self.metric} over seeds (the best mean won):")
            for f in self.finalists:
                ci = f" ± {f['ci95']:.3g}" if f["ci95"] is not None else ""
                out.append(
                    f"  {f['trial']}: {f['mean']:.6g}{ci} over {f['n']} seeds, "
                    f"P(best) {f['p_best']:.2f}"
                )
        if self.objectives:
            out.append(
                f"Pareto front over {', '.join(self.objectives)}: {len(self.front)} trials "
                f"({', '.join(self.front) or 'none'}); early stopping acted on "
                f"{self.objectives[0]} only"
            )
        if self.stopped:
            at = ", ".join(f"{t}@{e}" for t, e in sorted(self.stopped.items()))
            out.append(f"stopped early (trial@epoch): {at}")
        for res, used in self.resource_hours.items():
            out.append(
                f"{res}-hours used {used:.3f}, saved by early stopping "
                f"{self.saved_hours.get(res, 0.0):.3f}"
            )
        if self.resource_hours:
            out.append(cost_line(self))
        if self.errored:
            out.append(f"errored: {', '.join(self.errored)} (see their MLflow runs)")
        if self.disk:
            mb = {k: v / 1e6 for k, v in self.disk.items()}
            out.append(
                f"disk: the search wrote {sum(mb.values()):.1f} MB (Ray storage "
                f"{mb.get('ray', 0):.1f} MB, MLflow artifacts {mb.get('artifacts', 0):.1f} MB)"
            )
        if self.promotion is not None:
            p = self.promotion
            state = "promoted" if p.promoted else "not promoted"
            ver = f" version {p.version}" if p.version else ""
            out.append(f"champion: {p.model_name}{ver} {state}: {p.reason}")
        w = self.mlflow_writes
        if w.get("queued"):
            out.append(
                f"MLflow was unreachable for {w.get('unreachable_s', 0):.0f} s: "
                f"{w['queued']} of {w.get('writes', 0)} writes queued, "
                f"{w.get('caught_up', 0)} caught up"
            )
        if self.unrecorded:
            out.append(f"not recorded in MLflow ({len(self.unrecorded)} runs):")
            out.extend(f"  {line}" for line in self.unrecorded)
        out.append(f"MLflow: {scrub(self.tracking_uri)}  (search run {self.parent_run_id})")
        return out

    def _honest_lines(self) -> list[str]:
        """Val (what chose the winner) beside test (what it is worth), and the re-runs."""
        test_key = test_name(self.metric)
        out = []
        if test_key in self.test:
            out.append(
                f"  {self.metric}={self.best_value:.4g} (selected on)  "
                f"{test_key}={self.test[test_key]:.4g} (held-out test, seen once)"
            )
        agg = self.final.get(test_key)
        if agg:
            from adaptune.stats import Summary

            text = Summary(agg["mean"], agg["std"], agg["ci95"], int(agg["n"])).text()
            out.append(f"  re-runs of the best config: {test_key} {text}")
        return out


def short(value: Any) -> str:
    """A value as the lines and notes show it: a float to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def cost_line(s: Any) -> str:
    """'cost $0.0251 (local); saved by early stopping $0.0079', of a SearchSummary."""
    where = ", ".join(
        f"{kind} {dollars(usd)}" if len(s.node_usd) > 1 else kind
        for kind, usd in sorted(s.node_usd.items())
    )
    return (
        f"cost {dollars(s.cost_usd)}{f' ({where})' if where else ''}; "
        f"saved by early stopping {dollars(s.usd_saved)}"
    )


def decide(ledger: Ledger, plan: Plan) -> Decision:
    """The outcome counts and the best completed trial by the plan's objective; with
    several objectives or constraints, the best among the eligible (driver/pareto.py:
    the feasible Pareto front and promote.pick's bound). The first of equals wins."""
    # an interrupted search ended early (--promote-partial): on the trials that ended
    trials = [t for t in ledger.trials() if ledger.status(t.trial_id) is not Status.INTERRUPTED]
    stopped: dict[str, int] = {}
    errored: list[str] = []
    for t in trials:
        status = ledger.status(t.trial_id)
        if status is Status.STOPPED:
            stopped[t.trial_id] = int((t.last_result or {}).get(rk.EPOCH, 0))
        elif status is not Status.COMPLETED:
            errored.append(t.trial_id)
    done = scored(ledger, plan)  # completed: never an interrupted one
    eligible = pareto.eligible(plan)
    if eligible is not None:
        done = eligible(done)
    counts = Decision(len(trials), len(trials) - len(stopped) - len(errored), stopped, errored)
    if not done:
        return counts
    best = plan.mode.best(done, key=lambda t: t.last_result[plan.metric])
    return chosen(counts, best, ledger, plan)


def scored(ledger: Ledger, plan: Plan) -> list[Any]:
    """The completed trials that reported the objective: what a winner is chosen from."""
    return [
        t
        for t in ledger.trials()
        if ledger.status(t.trial_id) is Status.COMPLETED
        and isinstance((t.last_result or {}).get(plan.metric), int | float)
    ]


def chosen(decision: Decision, trial: Any, ledger: Ledger, plan: Plan, **more: Any) -> Decision:
    """`decision` with Tune trial `trial` as its best (its value, config and run)."""
    return dataclasses.replace(
        decision,
        best_trial=trial.trial_id,
        best_value=float(trial.last_result[plan.metric]),
        best_params=dict(trial.config),
        best_run_id=ledger.entry(trial.trial_id).run_id,
        **more,
    )
