"""`adaptune validate JOB...`: every check a search makes before Ray starts.

adaptune validate jobs/*.yaml --set search.num_samples=4
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from adaptune.commands.output import EXIT_BAD_INPUT, Output
from adaptune.job.spec import JobSpec
from adaptune.job.yamlfile import SpecError, SpecProblem

__all__ = ["cmd_validate", "load_plans", "overrides_of"]


def overrides_of(args: argparse.Namespace) -> dict[str, Any]:
    """The --set KEY=VALUE pairs, values read as YAML."""
    from adaptune.job.overrides import parse_override

    return dict(parse_override(s) for s in getattr(args, "set", None) or [])


def load_plans(path: str, args: argparse.Namespace) -> list[Any]:
    """The job file's checked plans (problems an override caused blamed on it)."""
    from adaptune.plan import ON_CLUSTER, make_plans

    job = JobSpec.from_yaml(path, overrides_of(args))
    remote = getattr(args, "address", None) or os.environ.get("RAY_ADDRESS")
    trust = getattr(args, "trust_remote_code", False)
    plans = make_plans(job, ON_CLUSTER if remote else None, trust_remote_code=trust)
    stage = f"{job.name}-" if job.stages else None  # JOB-STAGE: maybe a stage run before
    problems = [p for plan in plans for p in _warm_start_problems(plan, stage, args)]
    if problems:
        raise SpecError(problems[:1])
    return plans


def _warm_start_problems(
    plan: Any, stage: str | None, args: argparse.Namespace
) -> list[SpecProblem]:
    """search.warm_start.from naming no search (name or run id) and no job with a finished
    search in the store, when that store is a local SQLite file that exists (opened
    read-only); other stores are asked by the search driver (driver/warmstart.py)."""
    warm = plan.job.the_search.warm_start
    if warm is None or warm.from_ == "champion" or (stage and warm.from_.startswith(stage)):
        return []  # the champion is the registry's
    state = getattr(args, "state_dir", None) or os.environ.get("ADAPTUNE_HOME") or ".adaptune"
    uri = (
        getattr(args, "tracking_uri", None)
        or plan.job.tracking.uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{Path(state).resolve() / 'mlflow.db'}"
    )
    db = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if db is None or not db.is_file():
        return []
    from adaptune.tracking.names import Kind, Tag  # imports MLflow: only for such a job

    # Every search's run, by MLflow's SQL schema: no MLflow client, no schema migration.
    searches = f"""
        SELECT r.run_uuid, s.value, j.value, r.status FROM runs r
        JOIN experiments e ON e.experiment_id = r.experiment_id
        JOIN tags k ON k.run_uuid = r.run_uuid
            AND k.key = '{Tag.KIND}' AND k.value = '{Kind.SEARCH}'
        LEFT JOIN tags s ON s.run_uuid = r.run_uuid AND s.key = '{Tag.SEARCH}'
        LEFT JOIN tags j ON j.run_uuid = r.run_uuid AND j.key = '{Tag.JOB}'
        WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active'
        ORDER BY r.start_time DESC"""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            rows = conn.execute(searches).fetchall()
    except sqlite3.Error:  # not MLflow's schema, locked, ...: the driver will say
        return []
    name = warm.from_
    if any(
        name in (run_id, search) or (job == name and status == "FINISHED")
        for run_id, search, job, status in rows
    ):
        return []
    names = list(dict.fromkeys(s for _, s, _, _ in rows if s))
    there = f"searches there: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}"
    return [
        plan.job.problem(
            "search.warm_start.from",
            f"no search or job called '{name}' in {uri}; "
            + (there if names else "it holds no search"),
        )
    ]


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
