"""`adaptune methods`: every method the registry knows, with the package it came from.

adaptune methods            # name, package, objective, metrics, config fields
adaptune methods --json -   # the same rows as JSON; a broken entry point is a row
                            # with its "error" (the others still list)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from adaptune.commands.output import Output

__all__ = ["cmd_methods", "method_rows"]


def method_rows() -> list[dict[str, Any]]:
    """One row per method; then one per entry point that could not be loaded."""
    from adaptune.methods import BROKEN, METHODS, method_origin

    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "package": method_origin(name),
            "description": m.description,
            "metric": m.metric,
            "mode": m.mode,
            "metrics": list(m.metrics),
            "config": [f.name for f in dataclasses.fields(m.config_cls)],
        }
        for name, m in sorted(METHODS.items())
    ]
    rows += [{"name": name, "error": why} for name, why in sorted(BROKEN.items())]
    return rows


def cmd_methods(args: argparse.Namespace) -> int:
    with Output(args) as out:
        rows = method_rows()
        out.json(rows)
        if args.json != "-":
            for r in rows:
                if "error" in r:
                    continue
                print(
                    f"{r['name']:8s} {r['description']}\n         package {r['package']}; "
                    f"objective {r['metric']} ({r['mode']}); metrics: {', '.join(r['metrics'])}"
                    f"\n         config: {', '.join(r['config'])}"
                )
        # a broken package is reported, on stderr, whatever the output: it is left out of
        # the registry, and every other method still works
        for r in rows:
            if "error" in r:
                print(f"warning: method '{r['name']}' left out: {r['error']}", file=sys.stderr)
    return 0
