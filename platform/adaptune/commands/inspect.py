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

__all__ = ["cmd_list", "cmd_show", "columns"]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def columns(rows: list[dict[str, Any]], keys: list[str]) -> list[str]:
    """Rows as aligned text columns under a header."""
    cells = [[k.upper() for k in keys]] + [[_fmt(r.get(k)) for k in keys] for r in rows]
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

    with Output(args) as out:
        try:
            info = describe(_client(args, state), args.search, state)
        except LookupError as e:
            print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        out.json(info)
        if args.json == "-":
            return 0
        head = ["name", "kind", "status", "started", "method", "objective", "trials", "best"]
        head += ["best_trial", "champion", "run_id", "ui", "report"]
        settings = info.get("settings", {})
        width = max(map(len, [*head, *settings]))
        for key in head:
            if info.get(key) not in (None, ""):
                print(f"{key.replace('_', ' '):{width}}  {_fmt(info[key])}")
        for key, value in settings.items():
            print(f"{key:{width}}  {value}")
        trials = info.get("trials_table")
        if trials:
            keys = ["trial", "status", "epochs", "last", "best", *info.get("searched", [])]
            print("\n" + "\n".join(columns(trials, keys)))
    return 0
