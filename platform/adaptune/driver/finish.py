"""The end of a search: its last writes, the method's report, promotion, the summary.

    summary = finish(plan, client, recorder, box, ledger, decision, spend, reruns, ...)

Every write goes through the search's outbox; then a bounded wait for MLflow to take
them. Promotion and the report need the server: skipped, and said so, if it is still
down. What never reached MLflow ends up in ``summary.unrecorded``. The SearchSummary is
assembled here, once, from the ledger's decision, cost totals and re-runs.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import Any

from adaptune import tracking
from adaptune.driver import final, pareto
from adaptune.driver.background import warmed
from adaptune.driver.console import CONSOLE
from adaptune.driver.cost import Spend
from adaptune.driver.ledger import Ledger
from adaptune.driver.recorder import SEARCH_RUN, SearchRecorder
from adaptune.driver.results import Decision, SearchSummary
from adaptune.method import TEST_PREFIX
from adaptune.plan import Plan
from adaptune.tracking import outbox
from adaptune.tracking.names import Cost, SearchMetric, Tag

__all__ = ["finish"]


def finish(
    plan: Plan,
    client: Any,
    recorder: SearchRecorder,
    box: outbox.Outbox,
    ledger: Ledger,
    decision: Decision,
    spend: Spend,
    reruns: final.Reruns,
    *,
    search: str,
    parent_run_id: str,
    tracking_uri: str,
    wall_s: float,
    state_dir: Path,
    promote: bool = True,
    ended_by: str = "",
) -> SearchSummary:
    warmed()  # the report's modules: not imported from two threads at once
    trials, best = ledger.trials(), decision.best_trial
    metrics = {
        SearchMetric.TRIALS: decision.trials,
        SearchMetric.COMPLETED: decision.completed,
        SearchMetric.STOPPED: len(decision.stopped),
        SearchMetric.ERRORED: len(decision.errored),
        SearchMetric.WALL_S: wall_s,
        Cost.CPU_HOURS: spend.resource_hours.get("CPU", 0.0),
        Cost.GPU_HOURS: spend.resource_hours.get("GPU", 0.0),
        **{SearchMetric.hours_saved(k): v for k, v in spend.saved_hours.items()},
        Cost.USD: spend.cost_usd,
        Cost.USD_SAVED: spend.usd_saved,
    }
    if decision.best_value is not None:
        metrics[SearchMetric.best(plan.metric)] = decision.best_value
    batch = tracking.metric_batch(metrics, step=0)
    box.write(SEARCH_RUN, "search metrics", lambda r: client.log_batch(r, metrics=batch))
    if best:
        box.write(SEARCH_RUN, "best_trial tag", lambda r: client.set_tag(r, Tag.BEST_TRIAL, best))
    test = ledger.entry(best).test if best else {}
    objectives: list[str] = []
    front: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:  # kept until the outbox is drained
        if plan.method.search_report is not None:
            _method_report(plan, ledger, tmp)
        if plan.multi_objective:  # report/pareto.csv and .png, a front tag on every trial
            objectives = [f"{m} ({d})" for m, d in plan.objectives]
            front = pareto.record(plan, client, box, trials, ledger.outcomes(), tmp, best)
        final.record(client, box, best, plan.metric, test, reruns, tmp)  # test split, re-runs
        models = recorder.log_models(best, trials)  # tracking.log_models' trials
        if any(Path(tmp).iterdir()):
            box.write(
                SEARCH_RUN,
                "method report",
                lambda r: client.log_artifacts(r, tmp, artifact_path="report"),
            )
        with CONSOLE.phase("mlflow_drain"):
            caught_up = box.drain(outbox.catch_up_seconds())
        model_uri = ledger.entry(best).model_uri if best else None
        if best and model_uri is None and decision.best_run_id:
            model_uri = _model_uri(client, decision.best_run_id)  # logged before a resume
        promotion, skipped = _promote_and_report(
            plan, client, best, search, parent_run_id, tracking_uri, state_dir, caught_up, promote
        )
        summary = SearchSummary(
            search=search,
            parent_run_id=parent_run_id,
            tracking_uri=tracking_uri,
            metric=plan.metric,
            mode=plan.mode,
            **dataclasses.asdict(decision),
            **dataclasses.asdict(spend),
            best_model_uri=model_uri,
            wall_s=wall_s,
            promotion=promotion,
            test=test,
            final=reruns.final,
            reruns=reruns.rows,
            objectives=objectives,
            front=front,
            ended_by=ended_by,
        )
        report = state_dir / "reports" / f"{search}.html"
        recorder.describe(summary, plan.job.promote.alias, report)  # note, best run's name
        box.write(SEARCH_RUN, "run end", lambda r: client.set_terminated(r, "FINISHED"))
        box.drain(outbox.catch_up_seconds() if caught_up else 0.0)
    # The search is over (a resume no longer needs them): Ray storage keeps only the
    # checkpoints of models MLflow did not take (it was down), the one copy left of them.
    recorder.drop_checkpoints(trials, keep={t for t in models if not ledger.entry(t).model_uri})
    return dataclasses.replace(
        summary,
        unrecorded=box.unrecorded() + skipped,
        mlflow_writes=box.counts(),
        disk=_disk(client, recorder, ledger, search, parent_run_id),
    )


def _disk(
    client: Any, recorder: SearchRecorder, ledger: Ledger, search: str, parent_run_id: str
) -> dict[str, int]:
    """What the search left on disk (the summary's line); {} when MLflow cannot say."""
    from adaptune.driver import disk
    from adaptune.driver.recorder import local_path, storage_of

    trials = ledger.trials()
    storage = storage_of(trials[0]) if trials else ""
    uris = [e.model_uri for e in ledger.entries.values() if e.model_uri]
    try:
        with tracking.fail_fast():
            root = recorder.artifact_dirs()
            children = tracking.trial_runs(client, client.get_run(parent_run_id))
            runs = [parent_run_id, *(r.info.run_id for r in children)]
            models = [
                client.get_logged_model(uri.removeprefix("models:/")).artifact_location
                for uri in uris
            ]
    except Exception:
        return {}
    dirs = [str(Path(r, run)) for r in root for run in runs]
    dirs += [p for m in models for p in local_path(str(m))]
    return disk.written(storage, search, dirs)


def _promote_and_report(
    plan: Plan,
    client: Any,
    best_trial: str | None,
    search: str,
    parent_id: str,
    tracking_uri: str,
    state_dir: Path,
    caught_up: bool,
    promote: bool,
) -> tuple[tracking.Promotion | None, list[str]]:
    """Guarded promotion of the best trial and the search report, when MLflow took every
    queued write; with MLflow still down both are skipped, with the command that does
    them later. Returns the promotion and what was skipped (for summary.unrecorded)."""
    job, promotion = plan.job, None
    name = job.promote.model_name or job.name
    down = f"MLflow ({tracking.scrub(tracking_uri)}) still unreachable at the end of the search"
    at = f"adaptune {tracking.cli_flags(state_dir, tracking_uri)}"
    later = f"run `{at}promote {search}` once it is back"
    if job.promote.enabled and promote and not caught_up:
        promotion = tracking.Promotion(name, None, False, f"skipped: {down}; {later}")
    elif job.promote.enabled and promote:
        try:
            with tracking.fail_fast(), CONSOLE.phase("promotion"):
                promotion = tracking.promote(
                    client,
                    client.get_run(parent_id),
                    name,
                    job.promote.alias,
                    plan.metric,
                    plan.mode,
                    best_trial=best_trial,
                    rule=job.promote.rule,
                )
        except Exception as e:  # the summary, the report and the run's end still happen
            if outbox.is_transient(e):
                reason = f"skipped: MLflow unreachable ({type(e).__name__}); {later}"
            else:
                first = (str(e).strip().splitlines() or [""])[0][:300]
                reason = f"failed: {type(e).__name__}: {first}"
            promotion = tracking.Promotion(name, None, False, reason)
    if caught_up:
        from adaptune.report import report_quietly

        with tracking.fail_fast(), CONSOLE.phase("report"):
            report_quietly(client, parent_id, state_dir)  # a failed report only warns
        return promotion, []
    later = f"`{at}report {search}` builds it later"
    print(f"warning: no report: {down}; {later}", file=sys.stderr, flush=True)
    return promotion, [f"search run: report (MLflow unreachable; {later})"]


def _model_uri(client: Any, run_id: str) -> str | None:
    try:
        with tracking.fail_fast():
            uri = client.get_run(run_id).data.tags.get(Tag.MODEL_URI)
    except Exception:
        return None
    return str(uri) if uri else None


def _method_report(plan: Plan, ledger: Ledger, out_dir: str) -> None:
    """The method's own search report, written into `out_dir`."""
    assert plan.method.search_report is not None
    rows = [
        {
            "trial_id": t.trial_id,
            "outcome": str(ledger.status(t.trial_id)),
            "config": plan.resolved(dict(t.config)),
            # val only: a trial's test score is read for the chosen trial alone
            "metrics": {
                k: v for k, v in (t.last_result or {}).items() if not k.startswith(TEST_PREFIX)
            },
        }
        for t in ledger.trials()
    ]
    plan.method.search_report(rows, out_dir)
