"""`adaptune data JOB`: the job's data as its search will read it, split by split.

    adaptune data jobs/dao_paper.yaml --set data.path=data/FiQA_ABSA_task1/train.json

The job is validated first (the same checks as `adaptune validate`); then the method
reads the splits build_data makes (Method.read_splits) and data/checks.py sums them up:
per split its size, class or label counts and domains, and warnings for examples in two
splits, classes missing from a split and domains smaller than one batch. Exit 0 when the
data reads (warnings are printed, and in --json), 2 on bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from adaptune.commands.output import EXIT_BAD_INPUT, Output
from adaptune.commands.validate import load_plans
from adaptune.job.yamlfile import SpecError

__all__ = ["cmd_data"]


def cmd_data(args: argparse.Namespace) -> int:
    try:
        plans = load_plans(args.job, args)
    except SpecError as e:
        print(e, file=sys.stderr)
        return EXIT_BAD_INPUT
    plan = plans[0]  # every stage of a job reads the same data
    method = plan.method
    if method.read_splits is None:
        print(f"{args.job}: {method.name} does not describe its data splits", file=sys.stderr)
        return EXIT_BAD_INPUT
    from adaptune.data.checks import check_splits

    try:
        splits = method.read_splits(plan.job.data)
    except (OSError, ValueError, KeyError) as e:
        print(f"{args.job}: data: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    batch = _batch_size(plan)
    report = check_splits(splits, batch)
    with Output(args) as out:
        print(f"{args.job} [{plan.job.name}]: {method.name}, source {plan.job.data.source}")
        for name, entry in report.summary.items():
            n = entry["size"]
            print(f"  {name}: {n:,} example{'' if n == 1 else 's'}")
            for key in ("labels", "domains"):
                if key in entry:
                    counts = ", ".join(f"{k} {v:,}" for k, v in entry[key].items())
                    print(f"    {key}: {counts}")
        for line in report.warnings:
            print(f"warning: {line}")
        out.json({"job": args.job, "batch_size": batch, **dataclasses.asdict(report)})
    return 0


def _batch_size(plan: Any) -> int:
    """The largest batch the search may ask for (fixed, else the space's top, else the
    method's default)."""
    fields = {f.name: f.default for f in dataclasses.fields(plan.method.config_cls)}
    batch = plan.job.fixed.get("batch_size", fields.get("batch_size", 1))
    dist = plan.space.get("batch_size")
    if dist is not None:
        high = getattr(dist, "high", None)
        batch = high if high is not None else max(getattr(dist, "choices", [batch]))
    return int(batch)
