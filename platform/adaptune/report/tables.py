"""The report's numbers, from a loaded Search: trials table, ASHA rungs, best-so-far.

    rows = trial_rows(search)                       # one dict per Tune trial (trials.csv)
    rows = summary_rows(search)                     # fewer columns, best first (show, trials_df)
    rungs = rung_rows(search.trials, milestones(search))
    curve = best_so_far(search.trials, search.mode, search.start_ms)

Plain functions of plain data, so they are unit-tested on synthetic trials.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from adaptune.job.objective import Mode
from adaptune.job.space import parse_value
from adaptune.report.data import Search, Trial
from adaptune.tracking.names import Tag

__all__ = [
    "best_row",
    "best_so_far",
    "milestones",
    "rung_rows",
    "summary_rows",
    "trial_rows",
    "write_csv",
]

FIXED_COLUMNS = [
    "trial_id",
    "status",
    "status_detail",
    "epochs_run",
    "metric",
    "final_value",
    "best_value",
    "best_epoch",
    "wall_s",
    "train_s",
]


def trial_rows(search: Search) -> list[dict[str, Any]]:
    """One row per Tune trial: outcome, objective (last and best), compute, full config
    (searched parameters first, parsed to their type)."""
    hours = {res: f"{res.lower()}_hours" for res in search.per_trial}
    rows = []
    for t in search.trials:
        best = Mode(search.mode).best(t.history, key=lambda p: p.value) if t.history else None
        row: dict[str, Any] = {
            "trial_id": t.trial_id,
            "status": t.status,
            "status_detail": t.status_text,
            "epochs_run": t.epochs_run,
            "metric": search.metric,
            "final_value": t.history[-1].value if t.history else None,
            "best_value": best.value if best else None,
            "best_epoch": best.epoch if best else None,
            "wall_s": round(t.wall_s, 3),
            "train_s": round(t.train_s, 3),
        }
        for res, column in hours.items():
            row[column] = t.wall_s * search.per_trial[res] / 3600
        row["usd"], row["node_type"] = t.usd, t.node_type
        row["node_id"], row["run_id"] = t.node_id, t.run_id
        for name, dist in search.space.items():
            row[name] = parse_value(t.params.get(name, ""), dist)
        for name, text in sorted(t.params.items()):
            if name not in search.space:
                row[name if name not in row else f"config.{name}"] = text
        rows.append(row)
    return rows


def best_row(search: Search, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The search's best trial: the one it decided (tagged on its run), else the best
    completed one by the objective's last value."""
    done = [r for r in rows if r["status"] == "completed" and r["final_value"] is not None]
    tagged = search.tags.get(Tag.BEST_TRIAL)
    chosen = [r for r in rows if tagged and r["trial_id"] == tagged]
    if chosen or not done:
        return chosen[0] if chosen else None
    return Mode(search.mode).best(done, key=lambda r: r["final_value"])


def summary_rows(search: Search) -> list[dict[str, Any]]:
    """One row per trial, best first by what the search selects on, the objective at a
    trial's last epoch (`last_<metric>`): the chosen trial, then completed trials (the
    only ones that can be chosen), stopped ones, the rest. Columns: trial_id, status,
    stop_epoch, epochs, best_<metric> and last_<metric> (val), test/* where recorded
    (the chosen trial's), the searched parameters (typed), cost_usd, node_id, run_id."""
    rows = trial_rows(search)
    chosen = (best_row(search, rows) or {}).get("trial_id")
    tests = {t.trial_id: t.test for t in search.trials}
    last = f"last_{search.metric}"
    out = [
        {
            "trial_id": r["trial_id"],
            "status": r["status"],
            "stop_epoch": r["epochs_run"] if r["status"] == "stopped" else None,
            "epochs": r["epochs_run"],
            f"best_{search.metric}": r["best_value"],
            last: r["final_value"],
            **tests[r["trial_id"]],
            **{name: r[name] for name in search.space},
            "cost_usd": r["usd"],
            "node_id": r["node_id"],
            "run_id": r["run_id"],
        }
        for r in rows
    ]
    group = {"completed": 1, "stopped": 2}
    ranked = Mode(search.mode).ranked([r for r in out if r[last] is not None], lambda r: r[last])
    ranked.sort(key=lambda r: (r["trial_id"] != chosen, group.get(r["status"], 3)))
    return ranked + [r for r in out if r[last] is None]


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns or FIXED_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def milestones(search: Search) -> list[int]:
    """The epochs at which the scheduler compares trials, then max_t itself, where trials
    complete. ASHA: Ray's rungs grace · rf^k; HyperBand: every bracket's rungs
    (max_t · rf^-s, times rf^k); median stopping: every epoch from its grace period on;
    FIFO: only max_t."""
    top = max(1, search.max_t)
    if search.scheduler == "median":
        return list(range(max(1, min(int(search.grace_period), top)), top + 1))
    if search.scheduler == "hyperband" and search.reduction_factor > 1:
        return _hyperband_rungs(top, search.reduction_factor)
    if search.scheduler != "asha" or search.reduction_factor <= 1:
        return [top]
    grace, rf = max(search.grace_period, 1e-9), search.reduction_factor
    count = int(math.log(top / grace) / math.log(rf) + 1) if top >= grace else 0
    rungs = sorted({math.ceil(grace * rf**k - 1e-9) for k in range(count)} | {top})
    return [r for r in rungs if 0 < r <= top]


def _hyperband_rungs(max_t: int, eta: float) -> list[int]:
    """Ray's HyperBandScheduler: bracket s starts at r0 = int(max_t · eta^-s) epochs and
    multiplies by eta at each halving, capped at max_t."""
    brackets = round(math.log(max_t) / math.log(eta)) + 1
    rungs = {max_t}
    for s in range(brackets):
        r = int(max_t * eta**-s)
        while 0 < r < max_t:
            rungs.add(r)
            r = int(min(r * eta, max_t))
    return sorted(rungs)


def rung_rows(trials: list[Trial], rungs: list[int]) -> list[dict[str, Any]]:
    """Per rung: how many trials reached it, were stopped there (at or after it, before the
    next rung), errored there, went on, and which trials were stopped."""
    rows = []
    for i, rung in enumerate(rungs):
        nxt = rungs[i + 1] if i + 1 < len(rungs) else math.inf
        reached = [t for t in trials if t.epochs_run >= rung]
        here = [t for t in reached if t.epochs_run < nxt]
        stopped = [t.trial_id for t in here if t.status == "stopped"]
        errored = [t.trial_id for t in here if t.status == "errored"]
        completed = [t for t in here if t.status == "completed"]
        rows.append(
            {
                "epoch": rung,
                "reached": len(reached),
                "stopped_here": len(stopped),
                "errored_here": len(errored),
                "completed_here": len(completed),
                "went_on": len(reached) - len(here),
                "stopped_trials": " ".join(sorted(stopped)),
            }
        )
    return rows


def best_so_far(trials: list[Trial], mode: str, start_ms: int) -> list[dict[str, Any]]:
    """Every reported epoch in the order the driver logged it, with the cumulative compute
    spent by then (trial-epochs, wall seconds since the search started) and the best
    objective seen so far."""
    points = sorted(
        ((p, t.trial_id) for t in trials for p in t.history), key=lambda x: (x[0].time_ms, x[1])
    )
    rows: list[dict[str, Any]] = []
    best: float | None = None
    for n, (p, trial_id) in enumerate(points, start=1):
        if best is None or Mode(mode).better(p.value, best):
            best = p.value
        rows.append(
            {
                "trial_epochs": n,
                "wall_s": max(0.0, (p.time_ms - start_ms) / 1000),
                "trial_id": trial_id,
                "epoch": p.epoch,
                "value": p.value,
                "best": best,
            }
        )
    return rows
