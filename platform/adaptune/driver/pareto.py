"""Several objectives: the Pareto front of a search, the one point promoted, and its record.

    choose = eligible(plan)                      # results.decide's filter: front + pick
    rows = front_rows(plan, trials, outcomes)    # one row per trial, on_front or not
    front = record(plan, client, box, trials, outcomes, out_dir, best)  # csv, png, tags

The front holds the completed trials that meet every ``search.constraints`` bound and
that no other such trial dominates (at least as good on every objective, better on one).
A trial a scheduler stopped early is never on it: its values are from an earlier epoch.
Promotion needs one winner: ``promote.pick`` (metric, and an optional bound) picks the
best point of the front on that metric among those meeting the bound; without it, the
first objective's best. A search with constraints and one objective picks the best
feasible trial the same way.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from adaptune.job.objective import Bound
from adaptune.plan import Plan
from adaptune.tracking.names import Status, Tag

__all__ = ["eligible", "front_rows", "record"]

CSV, PNG = "pareto.csv", "pareto.png"


def _meets(result: dict[str, Any], bounds: Sequence[Bound]) -> bool:
    for b in bounds:
        v = result.get(b.metric)
        if not isinstance(v, int | float) or not math.isfinite(v) or b.violation(v) > 0:
            return False
    return True


def _values(plan: Plan, result: dict[str, Any]) -> list[float] | None:
    out = []
    for metric, _ in plan.objectives:
        v = result.get(metric)
        if not isinstance(v, int | float) or not math.isfinite(v):
            return None
        out.append(float(v))
    return out


def dominates(a: list[float], b: list[float], modes: Sequence[str]) -> bool:
    """`a` is at least as good as `b` on every objective and better on one."""
    signed = [(x, y) if m == "min" else (-x, -y) for x, y, m in zip(a, b, modes, strict=True)]
    return all(x <= y for x, y in signed) and any(x < y for x, y in signed)


def nondominated(points: dict[str, list[float]], modes: Sequence[str]) -> set[str]:
    return {
        k
        for k, v in points.items()
        if not any(dominates(w, v, modes) for j, w in points.items() if j != k)
    }


def eligible(plan: Plan) -> Callable[[list[Any]], list[Any]] | None:
    """The filter results.decide applies to the completed trials before taking the best:
    the feasible front (and promote.pick's bound) for several objectives, the feasible
    trials for one objective with constraints; None when there is nothing to filter."""
    bounds = plan.bounds
    if not plan.multi_objective and not bounds:
        return None
    extra = [plan.pick_bound] if plan.pick_bound else []
    modes = [m for _, m in plan.objectives]

    def choose(trials: list[Any]) -> list[Any]:
        ok = [t for t in trials if _meets(t.last_result or {}, bounds)]
        if plan.multi_objective:
            points = {t.trial_id: _values(plan, t.last_result or {}) for t in ok}
            known = {k: v for k, v in points.items() if v is not None}
            front = nondominated(known, modes)
            ok = [t for t in ok if t.trial_id in front]
        return [t for t in ok if _meets(t.last_result or {}, extra)]

    return choose


def front_rows(plan: Plan, trials: list[Any], outcomes: dict[str, Status]) -> list[dict[str, Any]]:
    """One row per trial that reported every objective: its values, whether it completed,
    met the constraints, and is on the front."""
    bounds, modes = plan.bounds, [m for _, m in plan.objectives]
    rows: list[dict[str, Any]] = []
    for t in trials:
        result = t.last_result or {}
        values = _values(plan, result)
        if values is None:
            continue
        rows.append(
            {
                "trial_id": t.trial_id,
                "status": str(outcomes.get(t.trial_id, Status.ERRORED)),
                **{m: v for (m, _), v in zip(plan.objectives, values, strict=True)},
                "feasible": _meets(result, bounds),
                "on_front": False,
                **{f"param.{k}": v for k, v in sorted(dict(t.config).items())},
            }
        )
    candidates = {
        r["trial_id"]: [r[m] for m, _ in plan.objectives]
        for r in rows
        if r["status"] == Status.COMPLETED and r["feasible"]
    }
    front = nondominated(candidates, modes)
    for r in rows:
        r["on_front"] = r["trial_id"] in front
    return rows


def record(
    plan: Plan,
    client: Any,
    box: Any,
    trials: list[Any],
    outcomes: dict[str, Status],
    out_dir: str,
    best_trial: str | None,
) -> list[str]:
    """pareto.csv and pareto.png into `out_dir` (logged under report/ by finish), and the
    front tag on every trial run, through the recorder's outbox; returns the front."""
    rows = front_rows(plan, trials, outcomes)
    for r in rows:
        if box.has(r["trial_id"]):
            flag = "true" if r["on_front"] else "false"
            box.write(
                r["trial_id"],
                "pareto tag",
                lambda run, f=flag: client.set_tag(run, Tag.PARETO_FRONT, f),
            )
    if not rows:
        return []
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    with open(Path(out_dir) / CSV, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: (not r["on_front"], r["trial_id"])))
    _plot(plan, rows, Path(out_dir) / PNG, best_trial)
    return [r["trial_id"] for r in rows if r["on_front"]]


def _plot(plan: Plan, rows: list[dict[str, Any]], path: Path, best: str | None) -> None:
    """The first two objectives: the front in colour and joined, dominated trials grey,
    infeasible ones crossed, early-stopped ones hollow, the picked point starred."""
    from matplotlib.figure import Figure

    (mx, dx), (my, dy) = plan.objectives[0], plan.objectives[1]
    fig = Figure(figsize=(6.5, 4.6))
    ax = fig.add_subplot()
    groups = {
        "dominated": [r for r in rows if r["status"] == "completed" and r["feasible"]],
        "infeasible": [r for r in rows if r["status"] == "completed" and not r["feasible"]],
        "stopped early": [r for r in rows if r["status"] != "completed"],
    }
    front = sorted((r for r in rows if r["on_front"]), key=lambda r: r[mx])
    groups["dominated"] = [r for r in groups["dominated"] if not r["on_front"]]
    style: dict[str, dict[str, Any]] = {
        "dominated": {"color": "lightgrey", "marker": "o"},
        "infeasible": {"color": "grey", "marker": "x"},
        "stopped early": {"facecolors": "none", "edgecolors": "lightgrey", "marker": "o"},
    }
    for label, group in groups.items():
        if group:
            ax.scatter([r[mx] for r in group], [r[my] for r in group], s=36,
                       label=f"{label} ({len(group)})", **style[label])  # fmt: skip
    ax.plot([r[mx] for r in front], [r[my] for r in front], "o-", color="tab:blue",
            label=f"Pareto front ({len(front)})")  # fmt: skip
    for r in front:
        ax.annotate(r["trial_id"][-5:], (r[mx], r[my]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")  # fmt: skip
    picked = [r for r in rows if r["trial_id"] == best]
    if picked:
        ax.scatter([picked[0][mx]], [picked[0][my]], marker="*", s=220, color="tab:red",
                   zorder=5, label=f"picked {best}")  # fmt: skip
    ax.set_xlabel(f"{mx} ({dx})")
    ax.set_ylabel(f"{my} ({dy})")
    if all(r[my] > 0 for r in rows) and max(r[my] for r in rows) > 100 * min(r[my] for r in rows):
        ax.set_yscale("log")
    extra = (
        f"; {len(plan.objectives) - 2} more objective(s) in pareto.csv"
        if len(plan.objectives) > 2
        else ""
    )
    ax.set_title(f"Pareto front of {len(rows)} trials{extra}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
