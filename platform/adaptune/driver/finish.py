"""The end of a search: its last writes, the method's report, promotion, the search report.

    finish(plan, client, recorder, summary, trials, state_dir, promote=True)

Every write goes through the recorder's outbox; then a bounded wait for MLflow to take
them. Promotion and the report need the server: skipped, and said so, if it is still
down. What never reached MLflow ends up in ``summary.unrecorded``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from adaptune import tracking
from adaptune.driver import final, pareto
from adaptune.driver.background import warmed
from adaptune.driver.console import CONSOLE
from adaptune.driver.recorder import SEARCH_RUN, SearchRecorder
from adaptune.driver.results import SearchSummary
from adaptune.plan import Plan
from adaptune.tracking import outbox
from adaptune.tracking.names import Cost, SearchMetric, Status, Tag

__all__ = ["finish"]


def finish(
    plan: Plan,
    client: Any,
    recorder: SearchRecorder,
    summary: SearchSummary,
    trials: list[Any],
    state_dir: Path,
    *,
    promote: bool = True,
) -> None:
    warmed()  # the report's modules: not imported from two threads at once
    box = recorder.box
    metrics = {
        SearchMetric.TRIALS: summary.trials,
        SearchMetric.COMPLETED: summary.completed,
        SearchMetric.STOPPED: len(summary.stopped),
        SearchMetric.ERRORED: len(summary.errored),
        SearchMetric.WALL_S: summary.wall_s,
        Cost.CPU_HOURS: summary.resource_hours.get("CPU", 0.0),
        Cost.GPU_HOURS: summary.resource_hours.get("GPU", 0.0),
        **{SearchMetric.hours_saved(k): v for k, v in summary.saved_hours.items()},
        Cost.USD: summary.cost_usd,
        Cost.USD_SAVED: summary.usd_saved,
    }
    if summary.best_value is not None:
        metrics[SearchMetric.best(plan.metric)] = summary.best_value
    batch = tracking.metric_batch(metrics, step=0)
    box.write(SEARCH_RUN, "search metrics", lambda r: client.log_batch(r, metrics=batch))
    if summary.best_trial:
        best = summary.best_trial
        box.write(SEARCH_RUN, "best_trial tag", lambda r: client.set_tag(r, Tag.BEST_TRIAL, best))
    with tempfile.TemporaryDirectory() as tmp:  # kept until the outbox is drained
        if plan.method.search_report is not None:
            _method_report(plan, trials, recorder.outcome, tmp)
        if plan.multi_objective:  # report/pareto.csv and .png, a front tag on every trial
            summary.objectives = [f"{m} ({d})" for m, d in plan.objectives]
            summary.front = pareto.record(
                plan, client, box, trials, recorder.outcome, tmp, summary.best_trial
            )
        final.record(client, box, summary, tmp)  # test split results, re-runs
        models = recorder.log_models(summary, trials)  # tracking.log_models' trials
        if any(Path(tmp).iterdir()):
            box.write(
                SEARCH_RUN,
                "method report",
                lambda r: client.log_artifacts(r, tmp, artifact_path="report"),
            )
        with CONSOLE.phase("mlflow_drain"):
            caught_up = box.drain(outbox.catch_up_seconds())
        if summary.best_trial in recorder.model_uris:
            summary.best_model_uri = recorder.model_uris[summary.best_trial]
        skipped = _promote_and_report(plan, client, summary, state_dir, caught_up, promote)
        report = state_dir / "reports" / f"{summary.search}.html"
        recorder.describe(summary, plan.job.promote.alias, report)  # note, best run's name
        box.write(SEARCH_RUN, "run end", lambda r: client.set_terminated(r, "FINISHED"))
        box.drain(outbox.catch_up_seconds() if caught_up else 0.0)
    summary.unrecorded = box.unrecorded() + skipped
    summary.mlflow_writes = box.counts()
    # The search is over (a resume no longer needs them): Ray storage keeps only the
    # checkpoints of models MLflow did not take (it was down), the one copy left of them.
    recorder.kept.drop_rest(trials, keep={t for t in models if t not in recorder.model_uris})
    summary.disk = _disk(client, recorder, trials)


def _disk(client: Any, recorder: SearchRecorder, trials: list[Any]) -> dict[str, int]:
    """What the search left on disk (the summary's line); {} when MLflow cannot say."""
    from adaptune.driver import disk
    from adaptune.driver.recorder import local_path, storage_of

    storage = storage_of(trials[0]) if trials else ""
    try:
        with tracking.fail_fast():
            root = recorder.artifact_dirs()
            runs = [recorder.parent, *(r.info.run_id for r in _children(client, recorder))]
            models = [
                client.get_logged_model(uri.removeprefix("models:/")).artifact_location
                for uri in recorder.model_uris.values()
            ]
    except Exception:
        return {}
    dirs = [str(Path(r, run)) for r in root for run in runs]
    dirs += [p for m in models for p in local_path(str(m))]
    return disk.written(storage, recorder.search, dirs)


def _children(client: Any, recorder: SearchRecorder) -> list[Any]:
    return tracking.trial_runs(client, client.get_run(recorder.parent))


def _promote_and_report(
    plan: Plan,
    client: Any,
    summary: SearchSummary,
    state_dir: Path,
    caught_up: bool,
    promote: bool,
) -> list[str]:
    """Guarded promotion of the best trial and the search report, when MLflow took every
    queued write; with MLflow still down both are skipped, with the command that does
    them later. Returns what was skipped (for summary.unrecorded)."""
    job, parent_id = plan.job, summary.parent_run_id
    if summary.best_trial and summary.best_model_uri is None and summary.best_run_id:
        summary.best_model_uri = _model_uri(client, summary.best_run_id)  # finished before a resume
    name = job.promote.model_name or job.name
    down = f"MLflow ({summary.tracking_uri}) still unreachable at the end of the search"
    later = f"run `adaptune promote {summary.search}` once it is back"
    if job.promote.enabled and promote and not caught_up:
        summary.promotion = tracking.Promotion(name, None, False, f"skipped: {down}; {later}")
    elif job.promote.enabled and promote:
        try:
            with tracking.fail_fast(), CONSOLE.phase("promotion"):
                summary.promotion = tracking.promote(
                    client,
                    client.get_run(parent_id),
                    name,
                    job.promote.alias,
                    plan.metric,
                    plan.mode,
                    best_trial=summary.best_trial,
                    rule=job.promote.rule,
                )
        except Exception as e:  # the summary, the report and the run's end still happen
            if outbox.is_transient(e):
                reason = f"skipped: MLflow unreachable ({type(e).__name__}); {later}"
            else:
                first = (str(e).strip().splitlines() or [""])[0][:300]
                reason = f"failed: {type(e).__name__}: {first}"
            summary.promotion = tracking.Promotion(name, None, False, reason)
    if caught_up:
        from adaptune.report import report_quietly

        with tracking.fail_fast(), CONSOLE.phase("report"):
            report_quietly(client, parent_id, state_dir)  # a failed report only warns
        return []
    later = f"`adaptune report {summary.search}` builds it later"
    print(f"warning: no report: {down}; {later}", file=sys.stderr, flush=True)
    return [f"search run: report (MLflow unreachable; {later})"]


def _model_uri(client: Any, run_id: str) -> str | None:
    try:
        with tracking.fail_fast():
            uri = client.get_run(run_id).data.tags.get(Tag.MODEL_URI)
    except Exception:
        return None
    return str(uri) if uri else None


def _method_report(plan: Plan, trials: list[Any], outcome: dict[str, Status], out_dir: str) -> bool:
    """The method's own search report, written into `out_dir`; True if it wrote anything."""
    assert plan.method.search_report is not None
    rows = [
        {
            "trial_id": t.trial_id,
            "outcome": str(outcome.get(t.trial_id, Status.ERRORED)),
            "config": plan.resolved(dict(t.config)),
            # val only: a trial's test score is read for the chosen trial alone
            "metrics": {
                k: v for k, v in (t.last_result or {}).items() if not k.startswith("test/")
            },
        }
        for t in trials
    ]
    plan.method.search_report(rows, out_dir)
    return any(Path(out_dir).iterdir())
