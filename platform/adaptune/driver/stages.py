"""Multi-stage jobs: stage k+1 starts from stage k's best model and winning config.

    summaries = run_stages(plans, state_dir)    # plans = make_plans(job), one per stage

MLflow: one run for the job, one nested search run per stage under it, and the trial
runs under their stage. The best model travels by its MLflow model URI: the next
stage downloads it and receives the local copy as the config field ``init_from``.
Only the last stage promotes to the registry. Method-neutral: a method's comparison
of its stages is its ``job_report`` hook.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from adaptune import tracking
from adaptune.driver import resume as resume_lib
from adaptune.driver.interrupt import SearchInterrupted
from adaptune.driver.jobreport import method_report
from adaptune.driver.results import SearchSummary
from adaptune.driver.run import new_name, run_search
from adaptune.method import MODEL_METADATA
from adaptune.plan import Plan
from adaptune.tracking.names import Kind, Tag, stage_best_tag

__all__ = ["StageFailed", "fetch_model_dir", "inherit", "run_stages"]


class StageFailed(RuntimeError):
    """A stage finished no trial, so the next stage has nothing to start from."""


def fetch_model_dir(model_uri: str, dest: Path) -> str:
    """A local copy of a logged trial model's own directory (inside the pyfunc)."""
    import mlflow

    root = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dest)))
    # The pyfunc keeps the trial's directory (with its metadata file) under artifacts/.
    found = sorted(root.glob(f"artifacts/*/{MODEL_METADATA}"))
    if not found:
        raise RuntimeError(f"{model_uri} holds no adaptune model directory")
    return str(found[0].parent)


def inherit(plan: Plan, previous: dict[str, Any], init_from: str) -> Plan:
    """The stage's plan with the previous winner's config under its own fixed values."""
    job = plan.job
    carried = {k: v for k, v in previous.items() if k not in plan.space and k not in job.fixed}
    fixed = {**carried, **job.fixed, "init_from": init_from}
    return dataclasses.replace(plan, job=job.model_copy(update={"fixed": fixed}))


def run_stages(
    plans: list[Plan],
    state_dir: Path,
    *,
    origin: dict[str, Any] | None = None,
    resume: resume_lib.Record | None = None,
    **kwargs: Any,
) -> list[SearchSummary]:
    """Run the stages in order under one job run. With `resume` (the job's record),
    finished stages are taken from the record, the stage that was running is resumed,
    and the rest run as usual."""
    job = plans[0].job
    uri = tracking.resolve_uri(kwargs.get("tracking_uri") or job.tracking.uri, state_dir)
    client = tracking.setup(uri)
    if resume is not None:
        job_key, run_id = resume.search, resume.job_run_id
        client.update_run(run_id, status="RUNNING")
        done = [SearchSummary(**d) for d in resume.stages_done]
    else:
        job_key, run_id = _open_job(client, plans, state_dir, uri, origin or {})
        done = []
    summaries: list[SearchSummary] = []
    previous: dict[str, Any] | None = None
    model_dir = ""
    for i, plan in enumerate(plans):
        if previous is not None:
            plan = inherit(plan, previous, model_dir)
        if i < len(done):
            summary = done[i]
            print(f"\n== stage {i + 1}/{len(plans)}: {plan.job.name}: done before ==")
        else:
            print(f"\n== stage {i + 1}/{len(plans)}: {plan.job.name} ==", flush=True)
            try:
                summary = run_search(
                    plan,
                    state_dir,
                    parent_run_id=run_id,
                    promote=i == len(plans) - 1,
                    origin={**(origin or {}), "job_key": job_key, "stage": i},
                    resume=resume_lib.running_stage(state_dir, job_key, i) if resume else None,
                    **kwargs,
                )
            except SearchInterrupted:  # the job resumes at this stage
                client.set_terminated(run_id, "KILLED")
                raise
            # only the last stage promotes; a resumed job redoes it
            stages_done = [
                {**dataclasses.asdict(s), "promotion": None} for s in [*summaries, summary]
            ]
            resume_lib.update(state_dir, job_key, stages_done=stages_done)
        summaries.append(summary)
        print("\n".join(summary.lines()), flush=True)
        if summary.best_trial is None or summary.best_model_uri is None:
            client.set_terminated(run_id, "FAILED")
            raise StageFailed(f"stage {plan.job.name} finished no trial; later stages skipped")
        previous = plan.resolved(summary.best_params)
        previous.pop("init_from", None)
        model_dir = fetch_model_dir(summary.best_model_uri, state_dir / "stages" / summary.search)
        best = f"{summary.best_trial} {summary.metric}={summary.best_value:.6g}"
        client.set_tag(run_id, stage_best_tag(i + 1), best)
    names = [f"stage {i + 1}" for i in range(len(summaries))]
    method_report(plans[0], client, run_id, names, [str(s.best_run_id) for s in summaries])
    from adaptune.report import report_quietly

    report_quietly(client, run_id, state_dir)  # one page, a section per stage
    client.set_terminated(run_id, "FINISHED")
    resume_lib.update(state_dir, job_key, finished=True)
    return summaries


def _open_job(
    client: Any, plans: list[Plan], state_dir: Path, uri: str, origin: dict[str, Any]
) -> tuple[str, str]:
    """A new job: its key, and its run with the record that lets it resume."""
    job = plans[0].job
    name = job.job_name or job.name
    experiment = tracking.ensure_experiment(client, job.tracking.experiment or name, state_dir)
    job_key = new_name(name)
    tags = {Tag.KIND: Kind.JOB, Tag.JOB: name, Tag.METHOD: job.method, Tag.STAGES: str(len(plans))}
    run_id = str(client.create_run(experiment, run_name=job_key, tags=tags).info.run_id)
    record = resume_lib.Record(
        search=job_key,
        kind=Kind.JOB,
        job=str(origin.get("job", "")),
        overrides=list(origin.get("overrides", [])),
        tracking_uri=uri,
        job_run_id=run_id,
        values=resume_lib.fingerprint(plans),
    )
    resume_lib.save(state_dir, record)
    return job_key, run_id
