"""`adaptune validate JOB...`: every check a search makes before Ray starts.

adaptune validate jobs/*.yaml --set search.num_samples=4
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adaptune.commands.output import EXIT_BAD_INPUT, Output
from adaptune.job.spec import JobSpec
from adaptune.job.yamlfile import SpecError

__all__ = ["cmd_validate", "load_plans", "overrides_of"]


def overrides_of(args: argparse.Namespace) -> dict[str, Any]:
    """The --set KEY=VALUE pairs, values read as YAML."""
    from adaptune.job.overrides import parse_override

    return dict(parse_override(s) for s in getattr(args, "set", None) or [])


def load_plans(path: str, args: argparse.Namespace) -> list[Any]:
    """The job file's checked plans (problems an override caused blamed on it)."""
    from adaptune.plan import make_plans

    job = JobSpec.from_yaml(path, overrides_of(args))
    return make_plans(job, trust_remote_code=getattr(args, "trust_remote_code", False))


def cmd_validate(args: argparse.Namespace) -> int:
    bad, results = 0, []
    with Output(args) as out:
        for path in args.jobs:
            try:
                plans = load_plans(path, args)
            except SpecError as e:
                print(e, file=sys.stderr)
                results.append({"job": path, "ok": False, "problems": [str(p) for p in e.problems]})
                bad += 1
                continue
            results.append({"job": path, "ok": True, "plans": [_describe(path, p) for p in plans]})
        out.json(results)
    return EXIT_BAD_INPUT if bad else 0


def _describe(path: str, plan: Any) -> dict[str, Any]:
    s = plan.job.the_search
    print(
        f"ok: {path} [{plan.job.name}]: {plan.method.name}, {plan.num_samples} "
        f"trial{'' if plan.num_samples == 1 else 's'}, "
        f"{s.sampler} + {s.scheduler.type}, {len(plan.space)} searched "
        f"({', '.join(plan.space)}), objective {plan.metric} ({plan.mode}), "
        f"max_t {plan.max_t} epochs"
    )
    if plan.multi_objective:
        front = ", ".join(f"{m} ({d})" for m, d in plan.objectives)
        print(f"    Pareto front over {front}; early stopping on {plan.objectives[0][0]} only")
    code = getattr(plan, "remote_code", None)
    if code:
        print(f"    runs model code (--trust-remote-code): {code}")
    return {
        "name": plan.job.name,
        "method": plan.method.name,
        "trials": plan.num_samples,
        "sampler": s.sampler,
        "scheduler": s.scheduler.type,
        "searched": list(plan.space),
        "metric": plan.metric,
        "mode": plan.mode,
        "max_t": plan.max_t,
        "remote_code": code,
    }
