"""Comparisons at equal budget: one search per arm, the same seeded re-runs of each arm's
best config, and a table of test means with intervals and paired tests.

    summaries = run_arms(plans, state_dir)     # plans = make_plans(job) of a job with arms

Every arm runs the job's search (sampler, num_samples, scheduler, seed) on the same data;
only its fixed values and, if it gives one, its space differ. Each arm's best config is
re-trained with the same fresh seeds (``final.seeds`` >= 2), so arm a's seed i and arm
b's seed i pair up. The job run gets report/comparison.{csv,md,png} and the results
record results/<job>.json (driver/claim.py; also in the `ledger` folder the origin
names, `adaptune search --ledger DIR`), which the table is made from. The arm promoted
is the one the validation split prefers (its best trial's val value), never the test.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

from adaptune import tracking
from adaptune.driver.claim import make_record, save_record
from adaptune.driver.interrupt import SearchInterrupted
from adaptune.driver.jobreport import method_report
from adaptune.driver.results import SearchSummary
from adaptune.driver.run import new_name, run_search
from adaptune.plan import Plan
from adaptune.report import comparison
from adaptune.tracking.names import Kind, Tag

__all__ = ["run_arms"]


def run_arms(
    plans: list[Plan], state_dir: Path, *, origin: dict[str, Any] | None = None, **kwargs: Any
) -> list[SearchSummary]:
    """Run every arm's search under one job run, then compare them on test."""
    job = plans[0].job
    name = job.job_name or job.name
    uri = tracking.resolve_uri(kwargs.get("tracking_uri") or job.tracking.uri, state_dir)
    client = tracking.setup(uri)
    experiment = tracking.ensure_experiment(client, job.tracking.experiment or name, state_dir)
    arms = ",".join(p.job.arm for p in plans)
    tags = {Tag.KIND: Kind.JOB, Tag.JOB: name, Tag.METHOD: job.method, Tag.ARMS: arms}
    run_id = client.create_run(experiment, run_name=new_name(name), tags=tags).info.run_id
    summaries = []
    for i, plan in enumerate(plans):
        print(f"\n== arm {i + 1}/{len(plans)}: {plan.job.arm} ==", flush=True)
        try:
            summary = run_search(
                plan,
                state_dir,
                parent_run_id=run_id,
                promote=False,
                origin={**(origin or {}), "arm": plan.job.arm},
                **kwargs,
            )
        except SearchInterrupted:  # its arms run again whole, at equal budget
            client.set_terminated(run_id, "KILLED")
            raise
        print("\n".join(summary.lines()), flush=True)
        summaries.append(summary)
    record = make_record(plans, summaries, client, origin or {})
    lines = _log_report(client, run_id, record)
    best = [str(s.best_run_id) for s in summaries if s.best_run_id]  # every arm finished
    method_report(plans[0], client, run_id, [p.job.arm for p in plans], best)
    print("\n".join(lines), flush=True)
    if written := save_record(record, client, run_id, (origin or {}).get("ledger")):
        print(f"results record: {written}", flush=True)
    summaries = _promote_val_winner(client, plans, summaries)
    client.set_terminated(run_id, "FINISHED")
    return summaries


def _log_report(client: Any, run_id: str, record: dict[str, Any]) -> list[str]:
    """The comparison's files on the job run (report/comparison.{csv,md,png}) and each
    arm's test means as metrics; the Markdown lines, for the console."""
    import tempfile

    rows, verdicts = comparison.comparison_rows(record)
    lines = comparison.markdown(record, rows, verdicts)
    with tempfile.TemporaryDirectory() as tmp:
        with open(Path(tmp, "comparison.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        Path(tmp, "comparison.md").write_text("\n".join(lines) + "\n")
        comparison.plot(record, rows).savefig(Path(tmp, "comparison.png"), dpi=110)
        client.log_artifacts(run_id, tmp, artifact_path="report")
    for r in rows:
        for key in record["metrics"]:
            if r[f"{key}_mean"] is not None:
                client.log_metric(run_id, f"{r['arm']}/{key}_mean", r[f"{key}_mean"])
    return lines


def _promote_val_winner(
    client: Any, plans: list[Plan], summaries: list[SearchSummary]
) -> list[SearchSummary]:
    """Promote the arm the validation split prefers (guarded by the job's promote.rule);
    the summaries, the promoting arm's with its promotion."""
    job = plans[0].job
    done = [(p, s) for p, s in zip(plans, summaries, strict=True) if s.best_value is not None]
    if not job.promote.enabled or not done:
        return summaries
    plan, summary = plans[0].mode.best(done, key=lambda ps: float(ps[1].best_value or 0))
    result = tracking.promote(
        client,
        client.get_run(summary.parent_run_id),
        job.promote.model_name or job.job_name or job.name,
        job.promote.alias,
        plan.metric,
        plan.mode,
        best_trial=summary.best_trial,
        rule=job.promote.rule,
    )
    state = "promoted" if result.promoted else "not promoted"
    print(f"champion (arm {plan.job.arm}, chosen on val): {state}: {result.reason}", flush=True)
    promoted = dataclasses.replace(summary, promotion=result)
    return [promoted if s is summary else s for s in summaries]
