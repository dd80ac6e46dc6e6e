"""`adaptune search JOB`, `adaptune resume NAME` and `adaptune rerun NAME TRIAL`: the CLI's
face of at.search, at.resume and at.rerun.

adaptune search jobs/quickstart.yaml --set search.num_samples=4 [-q] [--events FILE]
adaptune resume quickstart-20261124-101500-3f2a
adaptune rerun quickstart-20261124-101500-3f2a fc808086 --seeds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from adaptune.commands.output import EXIT_BAD_INPUT, EXIT_FAILED, Output, next_steps, state_dir
from adaptune.commands.validate import load_plans

__all__ = ["cmd_rerun", "cmd_resume", "cmd_search"]


def cmd_search(args: argparse.Namespace) -> int:
    plans = load_plans(args.job, args)  # bad input stops here, before Ray starts
    origin = {"job": str(Path(args.job).resolve()), "overrides": list(args.set or [])}
    origin["ledger"] = args.ledger
    return _run(args, plans, origin, None)


def cmd_resume(args: argparse.Namespace) -> int:
    from adaptune.api import resumable, warm_restart
    from adaptune.driver import resume as resume_lib

    try:
        record = resumable(state_dir(args), args.search)
    except LookupError as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if record is None:
        print(f"{args.search} finished already; nothing to resume")
        return 0
    args.tracking_uri = resume_lib.tracking_uri(record, args.tracking_uri)
    args.set = record.overrides
    plans = load_plans(record.job, args)
    try:
        resume_lib.check_unchanged(record, plans)
    except resume_lib.Changed as e:
        if not args.force:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        args.set = warm_restart(record)  # a new search, its first trials the old best
        print(f"{record.search}: its job changed; starting a new search warm-started from it")
        return _run(
            args, load_plans(record.job, args), {"job": record.job, "overrides": args.set}, None
        )
    return _run(args, plans, {"job": record.job, "overrides": record.overrides}, record)


def cmd_rerun(args: argparse.Namespace) -> int:
    from adaptune import tracking
    from adaptune.driver import resume as resume_lib
    from adaptune.rerun import rerun_overrides

    state = state_dir(args)
    try:
        record = resume_lib.load(state, args.search)
        args.tracking_uri = resume_lib.tracking_uri(record, args.tracking_uri)
        uri = args.tracking_uri or tracking.resolve_uri(None, state)
        sets = rerun_overrides(record, args.trial, seeds=args.seeds, tracking_uri=uri)
    except LookupError as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    args.set = sets + list(args.set or [])  # the user's last
    plans = load_plans(record.job, args)
    origin = {"job": record.job, "overrides": args.set, "rerun_of": f"{args.search} {args.trial}"}
    return _run(args, plans, origin, None)


def _run(args: argparse.Namespace, plans: list[Any], origin: dict[str, Any], record: Any) -> int:
    """Run through the API's runner with the console set up (progress, -q, --events)."""
    from adaptune.api import run_plans
    from adaptune.driver import console

    events = getattr(args, "events", None)
    if events == "-":  # the events alone on stdout, as they are written
        console.configure(quiet=args.quiet, events="-", live=False)
    with Output(args, stdout_taken=events == "-") as out:
        if events != "-":
            console.configure(quiet=args.quiet, events=events)
        try:
            summaries, _ = run_plans(
                plans,
                state_dir(args),
                origin,
                record,
                address=args.address,
                tracking_uri=args.tracking_uri,
                quiet=args.quiet,
                dashboard=args.ray_dashboard,
                verbose=args.verbose,
                promote_partial=args.promote_partial,
                read_back=False,  # the summaries are what it prints
            )
            done = [dataclasses.asdict(s) for s in summaries]  # promotion included
            console.CONSOLE.emit("search_finished", summaries=done)
        finally:
            console.CONSOLE.close()
        out.json(done[0] if len(done) == 1 else done)
    if len(summaries) > 1:
        return 0
    summary = summaries[0]
    lines = summary.lines() if not args.quiet else summary.lines()[:2]
    if not args.quiet:
        lines += next_steps(summary, state_dir(args), _experiment_of(summary))
    print("\n" + "\n".join(lines), flush=True)
    return 0 if summary.completed else EXIT_FAILED


def _experiment_of(summary: Any) -> str | None:
    from adaptune import tracking

    try:
        with tracking.fail_fast():
            client = tracking.setup(summary.tracking_uri)
            return str(client.get_run(summary.parent_run_id).info.experiment_id)
    except Exception:  # MLflow unreachable: the summary says so already
        return None
