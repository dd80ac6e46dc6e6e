"""`adaptune rerun SEARCH TRIAL`: one trial's config trained again, as a new search.

    adaptune rerun quickstart-20261208-101500-3f2a fc808086 --seeds 3 [--set fixed.epochs=8]
    at.rerun("quickstart-20261208-101500-3f2a", "fc808086", seeds=3)    # a SearchResult

The new search runs the old one's job file with its overrides, its space narrowed to the
values the trial sampled (one choice each), one trial and no warm start; with `seeds` the
config is then re-trained with that many fresh seeds (`final.seeds`), as a search's best
is. Recording, the held-out test score and guarded promotion are the usual ones (`--set
promote.enabled=false` to promote nothing). Its search run is tagged
`adaptune.rerun_of = "SEARCH TRIAL"`; `--set` overrides apply last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adaptune.job.spec import JobSpec

__all__ = ["rerun", "rerun_overrides"]


def rerun_overrides(record: Any, trial: str, *, seeds: int, tracking_uri: str) -> list[str]:
    """The overrides of a new search of `record`'s job that trains `trial`'s config (its
    Tune trial id or MLflow run id); LookupError names the search's trials if it has no
    such trial, or says why it cannot be re-run."""
    from adaptune import tracking
    from adaptune.driver import resume as resume_lib
    from adaptune.driver.warmstart import point_of
    from adaptune.job.overrides import parse_override
    from adaptune.plan import make_plans
    from adaptune.tracking.names import Kind, Tag

    if record.kind != "search" or record.stage is not None or record.arm:
        raise LookupError(
            f"{record.search} is a multi-stage job, a stage or a comparison's arm: rerun "
            "takes a search's trial"
        )
    resume_lib.job_file(record)
    client = tracking.setup(tracking_uri)
    runs = [
        r
        for r in tracking.trial_runs(client, client.get_run(record.parent_run_id))
        if r.data.tags.get(Tag.KIND, Kind.TRIAL) == Kind.TRIAL
    ]
    chosen = [r for r in runs if trial in (r.data.tags.get(Tag.TRIAL_ID), r.info.run_id)]
    if not chosen:
        known = ", ".join(sorted(str(r.data.tags.get(Tag.TRIAL_ID)) for r in runs)) or "none"
        raise LookupError(f"no trial '{trial}' in search {record.search} (its trials: {known})")
    sets = dict(parse_override(s) for s in record.overrides)
    plan = make_plans(JobSpec.from_yaml(record.job, sets))[0]
    point = point_of(plan, chosen[0].data.params, active=True)
    if not point:
        raise LookupError(f"trial {trial}'s logged config does not fit its search's space")
    space = {name: {"type": "categorical", "choices": [value]} for name, value in point.items()}
    out = [*record.overrides, f"search.space={json.dumps(space)}", "search.num_samples=1"]
    out.append("search.warm_start=null")
    return out + ([f"final.seeds={seeds}"] if seeds else [])


def rerun(
    search: str,
    trial: str,
    *,
    seeds: int = 0,
    overrides: dict[str, Any] | None = None,
    address: str | None = None,
    tracking_uri: str | None = None,
    state_dir: str | Path | None = None,
    quiet: bool = True,
) -> Any:
    """Train search `search`'s trial `trial` again as a new search (module docstring);
    `overrides` ({"fixed.epochs": 8}) apply last. Returns its SearchResult."""
    from adaptune import api, tracking
    from adaptune.driver import resume as resume_lib
    from adaptune.job.overrides import parse_override
    from adaptune.plan import make_plans

    state = api._state(state_dir)
    record = resume_lib.load(state, search)
    uri = resume_lib.tracking_uri(record, tracking_uri) or tracking.resolve_uri(None, state)
    sets = rerun_overrides(record, trial, seeds=seeds, tracking_uri=uri)
    sets += [f"{k}={json.dumps(v)}" for k, v in (overrides or {}).items()]
    plans = make_plans(JobSpec.from_yaml(record.job, dict(parse_override(s) for s in sets)))
    origin = {"job": record.job, "overrides": sets, "rerun_of": f"{search} {trial}"}
    return api._run(plans, state, origin, None, address=address, tracking_uri=uri, quiet=quiet)
