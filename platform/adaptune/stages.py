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


def run_stages(
    plans: list[Plan],
    state_dir: Path,
    *,
    origin: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
    **kwargs: Any,
) -> list[SearchSummary]:
    """Run the stages in order under one job run. With `resume` (the job's record, see
    adaptune.resume), finished stages are taken from the record, the stage that was
    running is resumed, and the rest run as usual."""
    from adaptune import resume as resume_lib
    from adaptune import tracking

    job = plans[0].job
    name = job.job_name or job.name
    uri = tracking.resolve_uri(kwargs.get("tracking_uri") or job.tracking.uri, state_dir)
    client = tracking.setup(uri)
    if resume is not None:
        job_key, run_id = resume["search"], resume["job_run_id"]
        client.update_run(run_id, status="RUNNING")
        done = [_summary(d) for d in resume.get("stages_done", [])]
    else:
        experiment = tracking.ensure_experiment(client, job.tracking.experiment or name, state_dir)
        job_key = f"{name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
        run_id = client.create_run(
            experiment,
            run_name=job_key,
            tags={
                f"{tracking.TAG}kind": "job",
                f"{tracking.TAG}job": name,
                f"{tracking.TAG}stages": str(len(plans)),
            },
        ).info.run_id
        resume_lib.record(
            state_dir,
            job_key,
            {**(origin or {}), "kind": "job", "job_run_id": run_id, "stages_done": []},
        )
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
            stage_origin = {**(origin or resume or {}), "job_key": job_key, "stage": i}
            stage_origin = {k: v for k, v in stage_origin.items() if k in _ORIGIN_KEYS}
            running = _running_stage(state_dir, job_key, i) if resume is not None else None
            summary = run_search(
                plan,
                state_dir,
                parent_run_id=run_id,
                promote=i == len(plans) - 1,
                origin=stage_origin,
                resume=running,
                **kwargs,
            )
            resume_lib.update(
                state_dir,
                job_key,
                stages_done=[_plain(s) for s in [*summaries, summary]],
            )
        summaries.append(summary)
        print("\n".join(summary.lines()), flush=True)
        if summary.best_trial is None or summary.best_model_uri is None:
            client.set_terminated(run_id, "FAILED")
            raise StageFailed(f"stage {plan.job.name} finished no trial; later stages skipped")
        previous = plan.resolved(summary.best_params)
        previous.pop("init_from", None)
        dest = state_dir / "stages" / summary.search
        model_dir = fetch_model_dir(summary.best_model_uri, dest)
        client.set_tag(
            run_id,
            f"{tracking.TAG}stage{i + 1}_best",
            f"{summary.best_trial} {summary.metric}={summary.best_value:.6g}",
        )
    compare_domains(client, run_id, summaries)
    from adaptune.report import report_quietly

    report_quietly(client, run_id, state_dir)  # one page, a section per stage
    client.set_terminated(run_id, "FINISHED")
    resume_lib.update(state_dir, job_key, finished=True)
    return summaries


_ORIGIN_KEYS = ("job", "overrides", "job_key", "stage")


def _plain(summary: SearchSummary) -> dict[str, Any]:
    out = dataclasses.asdict(summary)
    out["promotion"] = None  # only the last stage promotes; a resumed job redoes it
    return out


def _summary(d: dict[str, Any]) -> SearchSummary:
    return SearchSummary(**d)


def _running_stage(state_dir: Path, job_key: str, stage: int) -> dict[str, Any] | None:
    """The record of stage `stage`'s search if it started and did not finish."""
    import json

    for path in sorted((state_dir / "searches").glob("*.json")):
        rec = json.loads(path.read_text())
        if rec.get("job_key") == job_key and rec.get("stage") == stage:
            return None if rec.get("finished") else dict(rec)
    return None


def compare_domains(
    client: Any, run_id: str, summaries: list[SearchSummary], tolerance: float = 0.005
) -> list[str] | None:
    """First vs last stage's best trial per domain (``val/acc/<domain>`` metrics), logged
    to the job run as a table, a bar plot and the non-degradation check. Returns the
    domains that fell below the first stage beyond `tolerance`, or None without domains."""
    import csv
    import tempfile

    from adaptune.methods.dama.report import PREFIX, domain_bar_plot, domain_report

    first, last = (
        client.get_run(s.best_run_id).data.metrics for s in (summaries[0], summaries[-1])
    )
    if len(summaries) < 2 or not any(k.startswith(PREFIX) for k in first):
        return None
    rows, degraded = domain_report(first, last, tolerance)
    with tempfile.TemporaryDirectory() as tmp:
        with open(Path(tmp, "domains.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["domain", "stage1", "stage2", "delta"])
            writer.writeheader()
            writer.writerows(rows)
        domain_bar_plot(rows).savefig(Path(tmp, "domains.png"), dpi=110)
        client.log_artifacts(run_id, tmp, artifact_path="report")
    improved = [r["domain"] for r in rows if r["domain"] != "overall" and r["delta"] > tolerance]
    client.set_tag(run_id, "adaptune.degraded_domains", ",".join(degraded) or "none")
    client.set_tag(run_id, "adaptune.improved_domains", ",".join(improved) or "none")
    overall = {r["domain"]: r for r in rows}.get("overall")
    if overall:
        client.log_metric(run_id, "stage1/val/acc", overall["stage1"])
        client.log_metric(run_id, "last_stage/val/acc", overall["stage2"])
    print(
        f"per-domain: {len(improved)} improved, {len(degraded)} degraded beyond "
        f"{tolerance} ({', '.join(degraded) or 'none'}); table and plot in the job run's "
        "report/",
        flush=True,
    )
    return degraded
