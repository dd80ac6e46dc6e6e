"""One job runner: a single search, a multi-stage job or a comparison's arms.

    summaries = run_job(plans, state_dir, origin={"job": "/abs/job.yaml", "overrides": []})

`at.search`, `at.resume` and the CLI's `search` and `resume` all run a job through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adaptune.driver import resume as resume_lib
from adaptune.driver.results import SearchSummary
from adaptune.plan import Plan

__all__ = ["run_job"]


def run_job(
    plans: list[Plan],
    state_dir: Path,
    *,
    origin: dict[str, Any],
    record: resume_lib.Record | None = None,
    address: str | None = None,
    tracking_uri: str | None = None,
    verbose: bool = False,
    dashboard: bool = False,
) -> list[SearchSummary]:
    """Run the job the plans make (make_plans: one per stage or arm), or continue the one
    `record` names; returns one summary per search, in order."""
    from adaptune.driver.tuner import needs_dashboard

    common: dict[str, Any] = {
        "address": address,
        "tracking_uri": tracking_uri,
        "verbose": verbose,
        "origin": origin,
        "dashboard": dashboard or needs_dashboard(plans),
    }
    if plans[0].job.arm and record is None:  # a comparison: one search per arm
        from adaptune.driver.compare import run_arms

        return run_arms(plans, state_dir, **common)
    if len(plans) > 1 or (record is not None and record.kind == "job"):
        from adaptune.driver.stages import run_stages

        return run_stages(plans, state_dir, resume=record, **common)
    from adaptune.driver.run import run_search

    return [run_search(plans[0], state_dir, resume=record, **common)]
