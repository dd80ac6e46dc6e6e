"""A search as the MLflow store holds it: the parent run, its space and its trial runs.

    search = load_search(client, client.get_run(run_id))

Everything comes from MLflow (no Tune state), so a search that ran on a cluster or was
resumed after a crash reads the same. A trial that has more than one run (a resumed
search re-created it) is kept once: the run that got furthest.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mlflow import MlflowClient
from optuna.distributions import (
    BaseDistribution,
    json_to_distribution,
)

from adaptune.job.objective import Mode
from adaptune.method import TEST_PREFIX
from adaptune.tracking import trial_runs
from adaptune.tracking.names import (
    SEARCHED_PARAM_PREFIX,
    SPACE_ARTIFACT,
    Cost,
    Kind,
    Param,
    Status,
    Tag,
    TrialMetric,
)
from adaptune.train import report as rk

__all__ = ["Point", "Search", "Trial", "load_search", "status_of"]


class Point(NamedTuple):
    epoch: int
    value: float
    time_ms: int  # when the driver logged it


@dataclass
class Trial:
    trial_id: str
    run_id: str
    status: str  # completed | stopped | errored | running (a crashed or live search)
    status_text: str  # the run's adaptune.status tag as written
    params: dict[str, str]  # the full resolved config, as MLflow strings
    history: list[Point]  # the objective per epoch, in epoch order
    epochs_run: int
    wall_s: float  # the trial's wall time, worker start included (Tune's time_total_s)
    train_s: float  # sum of epoch_time_s: time inside the epoch loop
    node_id: str = ""
    start_ms: int = 0
    node_type: str = ""  # the cost ledger's (Cost.NODE_TYPE); "" before it existed
    usd: float | None = None
    test: dict[str, float] = field(default_factory=dict)  # test/*: the chosen trial's alone


@dataclass
class Search:
    run_id: str
    name: str
    metric: str
    mode: Mode
    start_ms: int
    scheduler: str  # asha | fifo
    grace_period: float
    reduction_factor: float
    max_t: int
    per_trial: dict[str, float]  # what one trial holds, e.g. {"CPU": 1.0}
    space: dict[str, BaseDistribution]
    trials: list[Trial] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    experiment_id: str = ""


def status_of(tag: str | None) -> str:
    """The status tag as one word (older searches wrote "stopped by ASHA at epoch k")."""
    status = Status.parse(tag)
    return (
        status.value if status in (Status.COMPLETED, Status.STOPPED, Status.ERRORED) else "running"
    )


def _float(params: dict[str, str], key: str, default: float) -> float:
    try:
        return float(params[key])
    except (KeyError, ValueError):
        return default


def load_search(client: MlflowClient, run: Any) -> Search:
    params, tags = dict(run.data.params), dict(run.data.tags)
    per_trial = {"CPU": _float(params, Param.WORKERS, 1) * _float(params, Param.CPUS_PER_WORKER, 1)}
    if params.get(Param.USE_GPU) == "True":
        per_trial["GPU"] = _float(params, Param.WORKERS, 1) * _float(
            params, Param.GPUS_PER_WORKER, 1
        )
    metric = tags.get(Tag.METRIC) or params.get(Param.METRIC, "")
    search = Search(
        run_id=run.info.run_id,
        name=tags.get(Tag.SEARCH) or run.info.run_name,
        metric=metric,
        mode=Mode(tags.get(Tag.MODE) or params.get(Param.MODE, "min")),
        start_ms=int(run.info.start_time or 0),
        scheduler=params.get(Param.SCHEDULER, "asha"),
        grace_period=_float(params, Param.GRACE_PERIOD, 1),
        reduction_factor=_float(params, Param.REDUCTION_FACTOR, 2),
        max_t=int(_float(params, Param.MAX_T, 1)),
        per_trial=per_trial,
        space={},
        tags=tags,
        params=params,
        metrics=dict(run.data.metrics),
        experiment_id=str(run.info.experiment_id),
    )
    search.trials = _trials(client, run, metric)
    search.space = _space(client, run)
    return search


def _trials(client: MlflowClient, parent: Any, metric: str) -> list[Trial]:
    kept: dict[str, Trial] = {}
    for run in trial_runs(client, parent):
        tags, metrics = run.data.tags, run.data.metrics
        if tags.get(Tag.KIND) in (Kind.SEARCH, Kind.RERUN, Kind.FINALIST):  # not a trial
            continue
        history = [
            Point(int(m.step), float(m.value), int(m.timestamp))
            for m in client.get_metric_history(run.info.run_id, metric)
        ]
        epoch_times = client.get_metric_history(run.info.run_id, rk.EPOCH_TIME_S)
        trial = Trial(
            trial_id=tags.get(Tag.TRIAL_ID) or run.info.run_name,
            run_id=run.info.run_id,
            status=status_of(tags.get(Tag.STATUS)),
            status_text=tags.get(Tag.STATUS_TEXT) or tags.get(Tag.STATUS, "running"),
            params={
                k: v for k, v in run.data.params.items() if not k.startswith(SEARCHED_PARAM_PREFIX)
            },
            history=sorted({p.epoch: p for p in history}.values()),
            epochs_run=int(metrics.get(rk.EPOCH, max((p.epoch for p in history), default=0))),
            wall_s=float(metrics.get(TrialMetric.WALL_S, metrics.get(rk.TIME_TOTAL_S, 0.0))),
            train_s=float(sum({m.step: m.value for m in epoch_times}.values())),
            node_id=tags.get(Tag.NODE_ID, ""),
            node_type=tags.get(Cost.NODE_TYPE, ""),
            usd=_number(tags.get(Cost.USD), metrics.get(Cost.USD)),  # a metric before
            test={k: v for k, v in metrics.items() if k.startswith(TEST_PREFIX)},
            start_ms=int(run.info.start_time or 0),
        )
        old = kept.get(trial.trial_id)
        if old is None or (trial.epochs_run, trial.start_ms) > (old.epochs_run, old.start_ms):
            kept[trial.trial_id] = trial
    return sorted(kept.values(), key=lambda t: (t.start_ms, t.trial_id))


def _space(client: MlflowClient, run: Any) -> dict[str, BaseDistribution]:
    """The searched distributions (spec/space.json); a search recorded by an older adaptune,
    without that file, is refused (LookupError)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run.info.run_id, SPACE_ARTIFACT, tmp)
        except Exception:
            raise LookupError(
                f"search run {run.info.run_id} has no {SPACE_ARTIFACT} (recorded by an older "
                "adaptune): its searched space is unknown"
            ) from None
        raw = json.loads(Path(path).read_text())
    return {k: json_to_distribution(v) for k, v in raw.items()}


def _number(text: str | None, otherwise: float | None) -> float | None:
    """A number kept as a tag's text, else `otherwise`."""
    try:
        return float(text) if text is not None else otherwise
    except ValueError:
        return otherwise
