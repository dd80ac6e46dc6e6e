"""A job's method report: the platform fetches each stage's or arm's best run and its
per-seed test rows, hands them to the method's ``job_report`` hook, and writes what the
hook returns on the job run.

    method_report(plan, client, job_run_id, names, best_run_ids)

Files the hook writes go under the job run's ``report/`` (the report page shows them);
its tags under ``adaptune.<method>.<key>``; its metrics at step 0; its summary printed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from adaptune import tracking
from adaptune.method import Arm
from adaptune.plan import Plan
from adaptune.tracking.names import method_tag

__all__ = ["method_report"]


def method_report(
    plan: Plan, client: Any, job_run_id: str, names: list[str], best_run_ids: list[str]
) -> None:
    hook = plan.method.job_report
    if hook is None or len(names) != len(best_run_ids):
        return
    arms = []
    for name, run_id in zip(names, best_run_ids, strict=True):
        run, seeds = tracking.store.seeded_runs(client, run_id)
        arms.append(Arm(name, dict(run.data.params), dict(run.data.metrics), seeds))
    with tempfile.TemporaryDirectory() as tmp:
        out = hook(arms, tmp)
        if any(Path(tmp).iterdir()):
            client.log_artifacts(job_run_id, tmp, artifact_path="report")
    if out is None:
        return
    for key, value in out.tags.items():
        client.set_tag(job_run_id, method_tag(plan.method.name, key), value)
    if out.metrics:
        client.log_batch(job_run_id, metrics=tracking.metric_batch(out.metrics, step=0))
    if out.summary:
        print("\n".join(out.summary), flush=True)
