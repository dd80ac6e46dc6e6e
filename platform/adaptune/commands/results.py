"""`adaptune results render`: the comparison tables between ``<!-- results: NAME -->``
markers in README.md and docs/ made again from the results records (results/NAME.json,
written by `adaptune search JOB --ledger results`); `--check` changes nothing and exits 1
when a table differs from its record (a hand edit, or a record made again)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from adaptune.commands.output import EXIT_BAD_INPUT, EXIT_FAILED

__all__ = ["cmd_results"]


def cmd_results(args: argparse.Namespace) -> int:
    from adaptune.report.comparison import render

    ledger = Path(args.ledger)
    try:
        records = {p.stem: json.loads(p.read_text()) for p in sorted(ledger.glob("*.json"))}
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: {ledger}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    files = [Path(f) for f in args.files] or [
        p for p in (Path("README.md"), *sorted(Path("docs").rglob("*.md"))) if p.exists()
    ]
    changed = []
    for path in files:
        try:
            text = path.read_text()
            new = render(text, records, str(path))
        except (OSError, KeyError) as e:
            print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if new != text:
            changed.append(str(path))
            if not args.check:
                path.write_text(new)
    if args.check and changed:
        print(f"differ from {ledger}/ (run `adaptune results render`): {', '.join(changed)}")
        return EXIT_FAILED
    verb = "differ" if args.check else "rewritten"
    print(f"{len(records)} record(s) in {ledger}/; {len(changed)} file(s) {verb}")
    return 0
