"""Multi-stage jobs: stage k+1 starts from stage k's best model and winning config.

    summaries = run_stages(plans, state_dir)    # plans = make_plans(job), one per stage

MLflow: one run for the job, one nested search run per stage under it, and the trial
runs under their stage. The best model travels by its MLflow model URI: the next
stage downloads it and receives the local copy as the config field ``init_from``.
Only the last stage promotes to the registry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from adaptune.plan import Plan
from adaptune.sweep import SearchSummary, run_search

__all__ = ["StageFailed", "run_stages"]


class StageFailed(RuntimeError):
    """A stage finished no trial, so the next stage has nothing to start from."""


def fetch_model_dir(model_uri: str, dest: Path) -> str:
    """A local copy of a logged trial model's own directory (inside the pyfunc)."""
    import mlflow

    root = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dest)))
    # The pyfunc keeps the trial's directory (with its adaptune.json) under artifacts/.
    found = sorted(root.glob("artifacts/*/adaptune.json"))
    if not found:
        raise RuntimeError(f"{model_uri} holds no adaptune model directory")
    return str(found[0].parent)


def inherit(plan: Plan, previous: dict[str, Any], init_from: str) -> Plan:
    """The stage's plan with the previous winner's config under its own fixed values."""
    job = plan.job
    carried = {k: v for k, v in previous.items() if k not in plan.space and k not in job.fixed}
    fixed = {**carried, **job.fixed, "init_from": init_from}
    return dataclasses.replace(plan, job=job.model_copy(update={"fixed": fixed}))


def run_stages(plans: list[Plan], state_dir: Path, **kwargs: Any) -> list[SearchSummary]:
    from adaptune import tracking

    job = plans[0].job
    name = job.name.removesuffix(f"-{job.stages[0].name}") if job.stages else job.name
    uri = tracking.resolve_uri(kwargs.get("tracking_uri") or job.tracking.uri, state_dir)
    client = tracking.setup(uri)
    experiment = tracking.ensure_experiment(client, job.tracking.experiment or name, state_dir)
    run = client.create_run(
        experiment,
        run_name=f"{name}-{dt.datetime.now():%Y%m%d-%H%M%S}",
        tags={
            f"{tracking.TAG}kind": "job",
            f"{tracking.TAG}job": name,
            f"{tracking.TAG}stages": str(len(plans)),
        },
    )
    summaries: list[SearchSummary] = []
    previous: dict[str, Any] | None = None
    model_dir = ""
    for i, plan in enumerate(plans):
        if previous is not None:
            plan = inherit(plan, previous, model_dir)
        print(f"\n== stage {i + 1}/{len(plans)}: {plan.job.name} ==", flush=True)
        summary = run_search(
            plan, state_dir, parent_run_id=run.info.run_id, promote=i == len(plans) - 1, **kwargs
        )
        summaries.append(summary)
        print("\n".join(summary.lines()), flush=True)
        if summary.best_trial is None or summary.best_model_uri is None:
            client.set_terminated(run.info.run_id, "FAILED")
            raise StageFailed(f"stage {plan.job.name} finished no trial; later stages skipped")
        previous = plan.resolved(summary.best_params)
        previous.pop("init_from", None)
        dest = state_dir / "stages" / summary.search
        model_dir = fetch_model_dir(summary.best_model_uri, dest)
        client.set_tag(
            run.info.run_id,
            f"{tracking.TAG}stage{i + 1}_best",
            f"{summary.best_trial} {summary.metric}={summary.best_value:.6g}",
        )
    client.set_terminated(run.info.run_id, "FINISHED")
    return summaries
