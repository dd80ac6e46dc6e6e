"""Warm starts: an earlier search's best configs (or the champion's) as the first trials.

    search:
      warm_start: {from: dao-finsent, top_k: 3}     # a search name, run id or job name
      warm_start: {from: champion}                 # the registered champion's config

    warm = gather(plan, client, fingerprint)       # WarmStart(points, rewards | None)

`from` names a search (its name or run id), else a job (its latest finished search), or
``champion``: the config of the trial holding ``promote.model_name@promote.alias``. The
earlier trials are the completed ones, best first by this search's objective (the
picked one, for a Pareto search). Their values reach the sampler as results, with no
re-training, only when they are comparable: the earlier search had the same space
(every distribution), the same objective and mode, the same fixed values and the same
data (fingerprint), and this search is single-objective with an unconditional space
(OptunaSearch cannot tell results to a define-by-run space). Otherwise the configs are
enqueued and trained as this search's first trials.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from optuna.distributions import distribution_to_json

from adaptune.driver.searcher import WarmStart
from adaptune.job.conditions import possible
from adaptune.job.space import parse_value
from adaptune.job.yamlfile import SpecError
from adaptune.plan import Plan
from adaptune.tracking import find_run, trial_runs
from adaptune.tracking.names import SPACE_ARTIFACT, Kind, Param, Status, Tag

__all__ = ["gather", "point_of"]

CHAMPION = "champion"


def gather(plan: Plan, client: Any, fingerprint: str) -> WarmStart | None:
    """The warm start the job asks for (None when it asks for none); a SpecError naming
    search.warm_start.from when what it names does not exist or has no usable trial."""
    if plan.job.the_search.warm_start is None:
        return None
    try:
        warm = _gather(plan, client, fingerprint)
    except LookupError as e:
        raise SpecError([plan.job.problem("search.warm_start.from", str(e))]) from None
    how = (
        "told to the sampler as results (same space, objective, fixed values and data)"
        if warm.rewards
        else "enqueued as the first trials"
    )
    print(f"warm start from {warm.source}: {len(warm.points)} configs {how}", flush=True)
    return warm


def _gather(plan: Plan, client: Any, fingerprint: str) -> WarmStart:
    spec = plan.job.the_search.warm_start
    assert spec is not None
    if spec.from_ == CHAMPION:
        search_run, runs = _champion(plan, client)
        source = f"champion {plan.job.promote.model_name or plan.job.name}"
    else:
        search_run = _search_run(client, spec.from_)
        runs = _best_trials(plan, client, search_run, spec.top_k)
        source = f"search {search_run.data.tags.get(Tag.SEARCH, spec.from_)}"
    points, values = [], []
    for run in runs:
        point = point_of(plan, run.data.params)
        if point is not None:
            points.append(point)
            values.append(float(run.data.metrics.get(plan.metric, float("nan"))))
    if not points:
        raise LookupError(f"no config of {source} fits this search's space")
    told = _comparable(plan, client, search_run, fingerprint) and all(v == v for v in values)
    return WarmStart(source, points, values if told else None)


def _search_run(client: Any, name: str) -> Any:
    try:
        return find_run(client, name, Kind.SEARCH)
    except LookupError:
        pass
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`{Tag.KIND}` = '{Kind.SEARCH}' and tags.`{Tag.JOB}` = '{name}' "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        raise LookupError(f"no search or job called '{name}' in {client.tracking_uri}")
    return runs[0]


def _best_trials(plan: Plan, client: Any, search_run: Any, k: int) -> list[Any]:
    done = [
        r
        for r in trial_runs(client, search_run)
        if r.data.tags.get(Tag.KIND, Kind.TRIAL) == Kind.TRIAL
        and Status.parse(r.data.tags.get(Tag.STATUS)) is Status.COMPLETED
        and plan.metric in r.data.metrics
    ]
    if not done:
        name = search_run.data.tags.get(Tag.SEARCH, search_run.info.run_id)
        raise LookupError(f"search {name} has no completed trial with {plan.metric}")
    return plan.mode.ranked(done, key=lambda r: float(r.data.metrics[plan.metric]))[:k]


def _champion(plan: Plan, client: Any) -> tuple[Any, list[Any]]:
    from mlflow.exceptions import MlflowException

    name, alias = plan.job.promote.model_name or plan.job.name, plan.job.promote.alias
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        raise LookupError(f"no model {name}@{alias} in the registry") from None
    run = client.get_run(version.tags.get(Tag.RUN_ID) or version.run_id)
    parent = run.data.tags.get("mlflow.parentRunId")
    return (client.get_run(parent) if parent else None), [run]


def point_of(plan: Plan, params: dict[str, str], *, active: bool = False) -> dict[str, Any] | None:
    """This space's parameters from a trial's logged config, or None if one cannot fit.
    `active`: only those the trial had (a conditional space's others were not sampled)."""
    point = {}
    for name, dist in plan.space.items():
        if name not in params:
            if active:
                continue
            return None
        value = parse_value(params[name], dist)
        if value is None or not possible(value, dist):
            return None
        point[name] = value
    return point


def _comparable(plan: Plan, client: Any, search_run: Any, fingerprint: str) -> bool:
    """Whether the earlier values may be told to this search's sampler as its own."""
    if search_run is None or plan.multi_objective or plan.conditions:
        return False
    tags, params = search_run.data.tags, search_run.data.params
    same_objective = params.get(Param.METRIC) == plan.metric and params.get(Param.MODE) == (
        plan.mode
    )
    fixed = {k.removeprefix("fixed."): v for k, v in params.items() if k.startswith("fixed.")}
    same_fixed = fixed == {k: str(v) for k, v in plan.job.fixed.items()}
    same_data = tags.get(Tag.DATA_FINGERPRINT) == fingerprint
    if not (same_objective and same_fixed and same_data) or params.get(Param.OBJECTIVES):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(search_run.info.run_id, SPACE_ARTIFACT, tmp)
            earlier = json.loads(Path(path).read_text())
        except Exception:
            return False
    now = {k: distribution_to_json(d) for k, d in plan.space.items()}
    return bool(earlier == now)
