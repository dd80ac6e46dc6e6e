"""`adaptune promote NAME` and `adaptune report NAME`: what a finished search decided.

adaptune promote quickstart-20261124-101500-3f2a --dry-run
adaptune report quickstart-20261124-101500-3f2a --open
"""

from __future__ import annotations

import argparse
import sys

from adaptune.commands.output import EXIT_BAD_INPUT, Output, open_page, state_dir
from adaptune.tracking.names import Kind

__all__ = ["cmd_promote", "cmd_report"]


def cmd_promote(args: argparse.Namespace) -> int:
    from adaptune import tracking
    from adaptune.tracking.store import quiet as quiet_mlflow

    client = tracking.setup(tracking.resolve_uri(args.tracking_uri, state_dir(args)))
    try:
        run = tracking.find_run(client, args.search, Kind.SEARCH)
    except LookupError as e:  # like `report`: a name that is not there is bad input
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    tags = run.data.tags
    Tag = tracking.Tag
    name = args.model_name or tags[Tag.MODEL_NAME]
    alias = args.alias or tags[Tag.ALIAS]
    metric, mode = tags[Tag.METRIC], tags[Tag.MODE]
    # a search recorded before the rule was: "better", the rule it was promoted under
    rule = args.rule or tags.get(Tag.PROMOTE_RULE, "better")
    with Output(args) as out, quiet_mlflow():
        result = tracking.promote(
            client, run, name, alias, metric, mode, dry_run=args.dry_run, rule=rule
        )
        out.json({**vars(result), "alias": alias, "rule": rule, "dry_run": args.dry_run})
    ver = f" version {result.version}" if result.version else ""
    state = "promoted — " if result.promoted else "not promoted — "
    if args.dry_run:
        state = "would be promoted — " if result.promoted else "would not be promoted — "
    if result.promoted and result.version is not None and result.version == result.previous:
        state = ""  # its own model holds the alias: the reason says so, nothing moved
    value = "" if result.value is None else f", {metric}={result.value:.6g}"
    print(f"{result.model_name}{ver}: {state}{result.reason} (best trial {result.trial_id}{value})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from adaptune import tracking
    from adaptune.report import build_report

    state = state_dir(args)
    with Output(args) as out:
        client = tracking.setup(tracking.resolve_uri(args.tracking_uri, state))
        try:
            report = build_report(client, args.search, state, args.ui_url)
        except LookupError as e:
            print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        out.json({"name": report.name, "run_id": report.run_id, "html": str(report.html)})
        if args.open:  # stdout: the path alone, as `xdg-open "$(adaptune report X --open)"`
            if not open_page(report.html.as_uri()):
                print("(no browser can open here: open the page yourself)", file=sys.stderr)
            print(report.html)
        else:
            if not args.quiet:
                print(
                    f"report for {report.name}: {', '.join(report.files)} logged under "
                    f"report/ of MLflow run {report.run_id}"
                )
            print(f"html: {report.html}")
    return 0
