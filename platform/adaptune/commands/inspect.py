"""`adaptune list` and `adaptune show NAME`: past searches and jobs, from the MLflow store.

adaptune list               # newest first: status, trials, best value, champion
adaptune show NAME          # one search: settings, trials, best, champion, report, UI
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from adaptune.commands.output import EXIT_BAD_INPUT, Output
from adaptune.method import test_name

__all__ = ["cmd_list", "cmd_show", "columns"]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def columns(
    rows: list[dict[str, Any]], keys: list[str], headers: list[str] | None = None
) -> list[str]:
    """Rows as aligned text columns under a header (`headers`, else the keys)."""
    cells = [[k.upper() for k in headers or keys]] + [[_fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def _client(args: argparse.Namespace, state: Path) -> Any:
    from adaptune import tracking

    return tracking.setup(tracking.resolve_uri(args.tracking_uri, state))


def cmd_list(args: argparse.Namespace, state: Path) -> int:
    from adaptune.report.catalog import list_runs

    with Output(args) as out:
        rows = list_runs(_client(args, state), limit=args.limit)
        out.json(rows)
        if args.json == "-":
            return 0
        if not rows:
            print(f"no searches yet in {state} (run: adaptune search jobs/quickstart.yaml)")
            return 0
        keys = ["name", "kind", "status", "started", "trials", "best", "objective", "champion"]
        print("\n".join(columns(rows, keys)))
    return 0


def cmd_show(args: argparse.Namespace, state: Path) -> int:
    from adaptune.report.catalog import describe
    from adaptune.report.tables import write_csv

    with Output(args) as out:
        try:
            info = describe(_client(args, state), args.search, state)
        except LookupError as e:
            print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        out.json(info)
        trials = info.get("trials_table") or []
        if args.csv:
            write_csv(trials, Path(args.csv))
        if args.json == "-":
            return 0
        head = _head(info)
        width = max(len(key) for key, _ in head)
        print("\n".join(f"{key:{width}}  {value}" for key, value in head))
        if trials:
            metric, searched = info["metric"], info["searched"]
            test = [test_name(metric)] if info.get("test") else []
            keys = ["trial_id", "status", "epochs", f"last_{metric}", *test, *searched]
            headers = ["trial", "status", "epochs", metric, *test, *searched]
            print("\n" + "\n".join(columns(trials, keys, headers)))
            print(
                f"best first by {metric} at each trial's last epoch: val, what the search "
                "selects on (completed trials only)"
                + (f"; {test[0]}: test, the chosen trial's alone" if test else "")
            )
        if args.csv:
            print(f"csv: {args.csv} ({len(trials)} trials)")
    return 0


def _head(info: dict[str, Any]) -> list[tuple[str, str]]:
    """The search's lines above its trials: what it is, its best trial (val, selected on,
    and test, seen once), champion, links, then its settings."""
    lines = []
    for key in ["name", "kind", "status", "started", "method", "objective", "trials"]:
        if info.get(key) not in (None, ""):
            lines.append((key, _fmt(info[key])))
    metric = info.get("metric") or "best"
    if info.get("best") is not None:
        trial = f"trial {info['best_trial']}: " if info.get("best_trial") else ""
        epoch = info.get("best_epoch")
        at = f" at epoch {epoch}" if epoch is not None else ""
        lines.append(("best", f"{trial}{metric}={_fmt(info['best'])}{at} — val (selected on)"))
    test = (info.get("test") or {}).get(test_name(metric))
    if test is not None:
        lines.append(("", f"{test_name(metric)}={_fmt(test)} — test (held-out, seen once)"))
    for key in ["champion", "run_id", "ui", "report"]:
        if info.get(key) not in (None, ""):
            lines.append((key.replace("_", " "), _fmt(info[key])))
    return lines + list(info.get("settings", {}).items())
