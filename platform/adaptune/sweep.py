"""Plan -> Tuner(OptunaSearch, ASHA) -> one TorchTrainer per trial -> summary + promotion.

    summary = run_search(plan, state_dir=Path(".adaptune"))

Ray: a local cluster on 127.0.0.1 unless ``address`` (or RAY_ADDRESS) names one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptune import resume as resume_lib
from adaptune.plan import Plan, trial_resources
from adaptune.spec import SpecError

__all__ = ["SearchSummary", "make_sampler", "run_search"]

# The trial driver only waits on its TorchTrainer: it holds no CPU, so workers get them all.
# Tune needs a non-empty bundle, hence a token amount of memory.
DRIVER_RESOURCES: dict[str, float] = {"cpu": 0, "memory": 64 * 1024**2}


def make_sampler(plan: Plan) -> Any:
    import optuna

    from adaptune.space import grid_of

    seed, kind = plan.job.the_search.seed, plan.job.the_search.sampler
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if kind == "qmc":
        return optuna.samplers.QMCSampler(seed=seed)
    return optuna.samplers.GridSampler(grid_of(plan.space), seed=seed)


def make_scheduler(plan: Plan) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    s = plan.job.the_search.scheduler
    if s.type == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr="epoch",
        metric=plan.metric,
        mode=plan.mode,
        max_t=plan.max_t,
        grace_period=s.grace_period,
        reduction_factor=s.reduction_factor,
    )


def init_ray(address: str | None, verbose: bool) -> None:
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"log_to_driver": verbose, "configure_logging": verbose}
    if address:
        ray.init(address=address, **kwargs)
    else:
        # A private local cluster with every port on loopback: with "clusters" disabled Ray
        # uses 127.0.0.1 as the node address (its _node_ip_address would resolve localhost
        # to the LAN address). Set before ray.init so the raylet and workers inherit it.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        # Worker groups queue behind each other's CPUs on a small machine: wait, don't fail.
        os.environ.setdefault("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", "900")
        # Train V2 frees a stopped trial's placement group from an actor that asks the
        # State API whether the controller died; with no address it guesses, and fails when
        # a second Ray instance runs on the machine ("multiple active Ray instances"), which
        # leaks the CPUs. Pin the dashboard port and hand its URL to every worker.
        port = _free_port()
        ray.init(
            include_dashboard=True,
            dashboard_host="127.0.0.1",
            dashboard_port=port,
            runtime_env={"env_vars": {"RAY_API_SERVER_ADDRESS": f"http://127.0.0.1:{port}"}},
            **kwargs,
        )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def concurrency(plan: Plan, cluster: dict[str, float], use_gpu: bool) -> int:
    if plan.job.the_search.max_concurrent != "auto":
        return int(plan.job.the_search.max_concurrent)
    need = trial_resources(plan.job, use_gpu)
    fits = min(math.floor(cluster.get(k, 0.0) / v + 1e-9) for k, v in need.items() if v > 0)
    return max(1, min(fits, plan.num_samples))


@dataclass
class SearchSummary:
    search: str
    parent_run_id: str
    tracking_uri: str
    metric: str
    mode: str
    trials: int = 0
    completed: int = 0
    stopped: dict[str, int] = field(default_factory=dict)  # trial id -> epoch stopped at
    errored: list[str] = field(default_factory=list)
    best_trial: str | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_model_uri: str | None = None
    best_run_id: str | None = None
    wall_s: float = 0.0
    resource_hours: dict[str, float] = field(default_factory=dict)  # CPU/GPU-hours used
    saved_hours: dict[str, float] = field(default_factory=dict)  # ... saved by early stopping
    promotion: Any = None
    # What could not be written to MLflow by the end (it was down): one line per run.
    unrecorded: list[str] = field(default_factory=list)
    mlflow_writes: dict[str, Any] = field(default_factory=dict)  # the outbox's counts

    def lines(self) -> list[str]:
        out = [
            f"search {self.search}: {self.trials} trials in {self.wall_s / 60:.1f} min — "
            f"{self.completed} completed, {len(self.stopped)} stopped by ASHA, "
            f"{len(self.errored)} errored"
        ]
        if self.best_trial:
            params = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in self.best_params.items()
            )
            out.append(
                f"best trial {self.best_trial}: {self.metric}={self.best_value:.6g} "
                f"({self.mode})  {params}"
            )
        if self.stopped:
            at = ", ".join(f"{t}@{e}" for t, e in sorted(self.stopped.items()))
            out.append(f"stopped early (trial@epoch): {at}")
        for res, used in self.resource_hours.items():
            out.append(
                f"{res}-hours used {used:.3f}, saved by early stopping "
                f"{self.saved_hours.get(res, 0.0):.3f}"
            )
        if self.errored:
            out.append(f"errored: {', '.join(self.errored)} (see their MLflow runs)")
        if self.promotion is not None:
            p = self.promotion
            state = "promoted" if p.promoted else "not promoted"
            ver = f" version {p.version}" if p.version else ""
            out.append(f"champion: {p.model_name}{ver} {state}: {p.reason}")
        w = self.mlflow_writes
        if w.get("queued"):
            out.append(
                f"MLflow was unreachable for {w.get('unreachable_s', 0):.0f} s: "
                f"{w['queued']} of {w.get('writes', 0)} writes queued, "
                f"{w.get('caught_up', 0)} caught up"
            )
        if self.unrecorded:
            out.append(f"not recorded in MLflow ({len(self.unrecorded)} runs):")
            out.extend(f"  {line}" for line in self.unrecorded)
        out.append(f"MLflow: {self.tracking_uri}  (search run {self.parent_run_id})")
        return out


def _compute(plan: Plan, trials: list[Any], use_gpu: bool, summary: SearchSummary) -> None:
    need = trial_resources(plan.job, use_gpu)
    for res in need:
        summary.resource_hours[res] = 0.0
        summary.saved_hours[res] = 0.0
    for t in trials:
        r = t.last_result or {}
        seconds, epoch, epochs = r.get("time_total_s", 0.0), r.get("epoch", 0), r.get("epochs", 0)
        for res, amount in need.items():
            summary.resource_hours[res] += seconds * amount / 3600
            if t.trial_id in summary.stopped and epoch:
                summary.saved_hours[res] += (epochs - epoch) * seconds / epoch * amount / 3600


def _search_settings(plan: Plan, use_gpu: bool, max_concurrent: int) -> dict[str, Any]:
    job = plan.job
    flat = {f"search.{k}": v for k, v in job.the_search.model_dump(exclude={"scheduler"}).items()}
    flat.update({f"scheduler.{k}": v for k, v in job.the_search.scheduler.model_dump().items()})
    flat.update({f"resources.{k}": v for k, v in job.resources.model_dump().items()})
    flat.update(
        {
            "method": job.method,
            "metric": plan.metric,
            "mode": plan.mode,
            "num_samples": plan.num_samples,
            "max_t": plan.max_t,
            "max_concurrent_resolved": max_concurrent,
            "use_gpu_resolved": use_gpu,
            "data.source": job.data.source,
            "data.n_train": job.data.n_train,
            **{f"fixed.{k}": v for k, v in job.fixed.items()},
        }
    )
    return flat


def _open(
    plan: Plan, client: Any, experiment_id: str, parent_run_id: str | None, info: dict[str, Any]
) -> tuple[str, str]:
    """A new search: its name and parent MLflow run (nested under a job's run if given)."""
    from adaptune import tracking

    job = plan.job
    search = f"{job.name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    nesting = {"mlflow.parentRunId": parent_run_id} if parent_run_id else {}
    parent = client.create_run(
        experiment_id,
        run_name=search,
        tags={
            **nesting,
            f"{tracking.TAG}kind": "search",
            f"{tracking.TAG}search": search,
            f"{tracking.TAG}method": job.method,
            f"{tracking.TAG}job": job.name,
            f"{tracking.TAG}data_fingerprint": info["fingerprint"],
            f"{tracking.TAG}model_name": job.promote.model_name or job.name,
            f"{tracking.TAG}alias": job.promote.alias,
            f"{tracking.TAG}metric": plan.metric,
            f"{tracking.TAG}mode": plan.mode,
        },
    )
    return search, parent.info.run_id


def _reopen(client: Any, record: dict[str, Any], path: str) -> dict[str, str]:
    """A search being resumed: its parent run reopened, its trial runs settled (see
    resume.settle_runs); returns trial id -> run id for the runs the trials continue."""
    from ray import tune
    from ray.tune import ExperimentAnalysis

    if not tune.Tuner.can_restore(path):
        raise LookupError(f"{record['search']}: no Tune state at {path} to resume from")
    saved = {t.trial_id for t in ExperimentAnalysis(path).trials}
    known = resume_lib.trial_run_ids(client, record)
    lost = resume_lib.settle_runs(client, known, saved)
    client.update_run(record["parent_run_id"], status="RUNNING")
    print(
        f"resuming {record['search']}: {len(saved)} trials saved by Tune"
        + (f", {len(lost)} started after its last save (marked lost)" if lost else ""),
        flush=True,
    )
    return known


def storage_location(configured: str | None, state_dir: Path) -> str:
    """Tune/Train state: the job's storage_path, else $ADAPTUNE_STORAGE_PATH, else the state
    folder. A URI (s3://, gs://, ...) goes to pyarrow's filesystems untouched; a shared one
    (NFS or a bucket) lets any node resume a search."""
    where = configured or os.environ.get("ADAPTUNE_STORAGE_PATH")
    if not where:
        return str(state_dir / "ray")
    return where if "://" in where else str(Path(where).expanduser().resolve())


def run_search(
    plan: Plan,
    state_dir: Path,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    verbose: bool = False,
    parent_run_id: str | None = None,
    promote: bool = True,
    origin: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
) -> SearchSummary:
    """Run one search; nested under `parent_run_id` (a multi-stage job's run) if given.

    `origin` (the job file and overrides) is recorded so `adaptune resume` can rebuild the
    plan; `resume` (such a record) continues that search's Tune experiment and MLflow runs
    instead of starting a new one."""
    import ray
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    from adaptune import tracking
    from adaptune.plan import _check_resources, make_default
    from adaptune.progress import SearchCallback

    job = plan.job
    started = time.monotonic()
    if not verbose:  # our progress lines replace Tune's tables
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    init_ray(address, verbose)
    cluster = {k: float(v) for k, v in ray.cluster_resources().items()}
    problems = _check_resources(job, cluster)
    if problems:  # refused before anything starts
        raise SpecError(problems)
    use_gpu = job.resources.use_gpu is True or (
        job.resources.use_gpu == "auto" and cluster.get("GPU", 0) > 0
    )
    max_concurrent = concurrency(plan, cluster, use_gpu)

    data = job.data
    if data.source == "file" and data.path:
        data = data.model_copy(update={"path": str(job.resolve_path(data.path))})
    cache_dir = state_dir / "cache" / job.method
    print(f"preparing data ({data.source}, {data.n_train} examples) ...", flush=True)
    _, _, info = plan.method.build_data(make_default(plan.method, job.fixed), data, str(cache_dir))

    uri = tracking.resolve_uri(tracking_uri or job.tracking.uri, state_dir)
    client = tracking.setup(uri)
    experiment_id = tracking.ensure_experiment(
        client, job.tracking.experiment or job.name, state_dir
    )
    storage = storage_location(job.storage_path, state_dir)
    known: dict[str, str] = {}  # trial id -> MLflow run, for a resumed search
    if resume is not None:
        search, parent_id = resume["search"], resume["parent_run_id"]
        experiment_id, storage = resume["experiment_id"], resume["storage"]
        known = _reopen(client, resume, f"{storage.rstrip('/')}/{search}")
    else:
        search, parent_id = _open(plan, client, experiment_id, parent_run_id, info)
        resume_lib.record(
            state_dir,
            search,
            {
                **(origin or {}),
                "parent_run_id": parent_id,
                "experiment_id": experiment_id,
                "storage": storage,
                "tracking_uri": uri,
                "finished": False,
            },
        )
        tracking.log_params(client, parent_id, _search_settings(plan, use_gpu, max_concurrent))
        for path in (job.source_file, plan.space_file):
            if path:
                client.log_artifact(parent_id, str(Path(path).resolve()), artifact_path="spec")
        from optuna.distributions import distribution_to_json

        space_json = {k: distribution_to_json(d) for k, d in plan.space.items()}
        client.log_dict(parent_id, space_json, "spec/space.json")  # read back by reports

    # One worker per trial: the Tune trial actor trains itself and holds the worker's
    # resources (local_trial.py); the actor is reused by the next trial.
    in_actor = job.resources.workers_per_trial == 1 and job.resources.worker_group == "auto"
    setup = {
        "in_actor": in_actor,
        "method": job.method,
        "fixed": job.fixed,
        "data": data.model_dump(),
        "cache_dir": str(cache_dir),
        "resources": job.resources.model_dump(),
        "use_gpu": use_gpu,
        "search": search,
        "storage_path": storage,
    }
    callback = SearchCallback(plan, client, experiment_id, parent_id, search, known)
    from adaptune.trial import run_trial

    actor = {k.lower(): v for k, v in trial_resources(job, use_gpu).items()}
    trainable = tune.with_resources(
        functools.partial(run_trial, setup=setup), actor if in_actor else DRIVER_RESOURCES
    )
    if resume is not None:
        tuner = tune.Tuner.restore(f"{storage.rstrip('/')}/{search}", trainable)
        # The saved run config holds the callback pickled at the start (no run ids yet);
        # this session's callback, which knows the existing runs, replaces it.
        tuner._local_tuner.get_run_config().callbacks = [callback]  # type: ignore[union-attr]
    else:
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=OptunaSearch(
                    space=plan.space,
                    metric=plan.metric,
                    mode=plan.mode,
                    sampler=make_sampler(plan),
                ),
                scheduler=make_scheduler(plan),
                num_samples=plan.num_samples,
                max_concurrent_trials=max_concurrent,
                reuse_actors=in_actor,
            ),
            run_config=tune.RunConfig(
                name=search,
                storage_path=storage,
                callbacks=[callback],
                verbose=0,
                # In-actor trials are restarted by Tune (worker groups by Ray Train).
                failure_config=tune.FailureConfig(
                    max_failures=job.resources.trial_retries if in_actor else 0
                ),
            ),
        )
    print(
        f"search {search}: {plan.num_samples} trials of {job.method}, {max_concurrent} at a "
        f"time on {'GPU' if use_gpu else 'CPU'}, sampler {job.the_search.sampler}, scheduler "
        f"{job.the_search.scheduler.type}; objective {plan.metric} ({plan.mode})",
        flush=True,
    )
    grid = tuner.fit()

    summary = SearchSummary(search, parent_id, uri, plan.metric, plan.mode)
    # Every trial of the experiment, those finished before a resume included.
    everyone = {t.trial_id: t for t in grid._experiment_analysis.trials}
    all_trials = list({**everyone, **callback.trials}.values())
    for t in all_trials:
        callback.outcome.setdefault(t.trial_id, _outcome(t))
    summary.trials = len(grid)
    for t in all_trials:
        outcome = callback.outcome.get(t.trial_id, "errored")
        if outcome == "completed":
            summary.completed += 1
        elif outcome == "stopped":
            summary.stopped[t.trial_id] = int((t.last_result or {}).get("epoch", 0))
        else:
            summary.errored.append(t.trial_id)
    finished = [
        t
        for t in all_trials
        if callback.outcome.get(t.trial_id) == "completed" and plan.metric in (t.last_result or {})
    ]
    if finished:
        pick = min if plan.mode == "min" else max
        best = pick(finished, key=lambda t: t.last_result[plan.metric])
        summary.best_trial, summary.best_value = best.trial_id, best.last_result[plan.metric]
        summary.best_params = dict(best.config)
        summary.best_run_id = callback.runs.get(best.trial_id)
        summary.best_model_uri = callback.model_uris.get(best.trial_id)
    _compute(plan, all_trials, use_gpu, summary)
    summary.wall_s = time.monotonic() - started
    _close(plan, client, callback, summary, all_trials, state_dir, promote=promote)
    resume_lib.update(state_dir, search, finished=True)
    return summary


def _close(
    plan: Plan,
    client: Any,
    callback: Any,
    summary: SearchSummary,
    trials: list[Any],
    state_dir: Path,
    *,
    promote: bool = True,
) -> None:
    """The search run's last writes, through the callback's outbox (see adaptune.outbox):
    its metrics, best trial and method report, then a bounded wait for MLflow to take
    every queued write. Promotion and the report need the server: skipped, and said so,
    if it is still down. What never reached MLflow ends up in summary.unrecorded."""
    import tempfile

    from adaptune import outbox, tracking
    from adaptune.progress import SEARCH_RUN, SearchCallback

    assert isinstance(callback, SearchCallback)
    box = callback.box
    metrics = {
        "trials": summary.trials,
        "completed": summary.completed,
        "stopped_early": len(summary.stopped),
        "errored": len(summary.errored),
        "wall_s": summary.wall_s,
        **{f"{k.lower()}_hours": v for k, v in summary.resource_hours.items()},
        **{f"{k.lower()}_hours_saved": v for k, v in summary.saved_hours.items()},
        **({f"best/{plan.metric}": summary.best_value} if summary.best_value is not None else {}),
    }
    batch = tracking.metric_batch(metrics, step=0)
    box.write(SEARCH_RUN, "search metrics", lambda r: client.log_batch(r, metrics=batch))
    if summary.best_trial:
        best = summary.best_trial
        box.write(
            SEARCH_RUN,
            "best_trial tag",
            lambda r: client.set_tag(r, f"{tracking.TAG}best_trial", best),
        )
    with tempfile.TemporaryDirectory() as tmp:  # kept until the outbox is drained
        if plan.method.search_report is not None and _method_report(
            plan, trials, callback.outcome, tmp
        ):
            box.write(
                SEARCH_RUN,
                "method report",
                lambda r: client.log_artifacts(r, tmp, artifact_path="report"),
            )
        caught_up = box.drain(outbox.catch_up_seconds())
        skipped = _promote_and_report(plan, client, summary, state_dir, caught_up, promote)
        box.write(SEARCH_RUN, "run end", lambda r: client.set_terminated(r, "FINISHED"))
        box.drain(outbox.catch_up_seconds() if caught_up else 0.0)
    summary.unrecorded = box.unrecorded() + skipped
    summary.mlflow_writes = box.counts()


def _promote_and_report(
    plan: Plan,
    client: Any,
    summary: SearchSummary,
    state_dir: Path,
    caught_up: bool,
    promote: bool,
) -> list[str]:
    """Guarded promotion and the search report, when MLflow took every queued write;
    with MLflow still down both are skipped, with the command that does them later.
    Returns what was skipped (for summary.unrecorded)."""
    from adaptune import outbox, tracking

    job, parent_id = plan.job, summary.parent_run_id
    if summary.best_trial and summary.best_model_uri is None and summary.best_run_id:
        summary.best_model_uri = _model_uri(client, summary.best_run_id)  # finished before a resume
    promote = job.promote.enabled and promote
    down = f"MLflow ({summary.tracking_uri}) still unreachable at the end of the search"
    if promote and not caught_up:
        summary.promotion = tracking.Promotion(
            job.promote.model_name or job.name,
            None,
            False,
            f"skipped: {down}; run `adaptune promote {summary.search}` once it is back",
        )
    elif promote:
        try:
            with tracking.fail_fast():
                summary.promotion = tracking.promote(
                    client,
                    client.get_run(parent_id),
                    job.promote.model_name or job.name,
                    job.promote.alias,
                    plan.metric,
                    plan.mode,
                )
        except Exception as e:
            if not outbox.is_transient(e):
                raise
            summary.promotion = tracking.Promotion(
                job.promote.model_name or job.name,
                None,
                False,
                f"skipped: MLflow unreachable ({type(e).__name__}); "
                f"run `adaptune promote {summary.search}` once it is back",
            )
    if caught_up:
        from adaptune.report import report_quietly

        with tracking.fail_fast():
            report_quietly(client, parent_id, state_dir)  # a failed report only warns
        return []
    later = f"`adaptune report {summary.search}` builds it later"
    print(f"warning: no report: {down}; {later}", file=sys.stderr, flush=True)
    return [f"search run: report (MLflow unreachable; {later})"]


def _model_uri(client: Any, run_id: str) -> str | None:
    from adaptune import tracking

    try:
        with tracking.fail_fast():
            uri = client.get_run(run_id).data.tags.get(f"{tracking.TAG}model_uri")
    except Exception:
        return None
    return str(uri) if uri else None


def _outcome(trial: Any) -> str:
    """completed | stopped | errored, from a Tune trial's state (for trials that finished
    before a resume, which this session's callback never saw)."""
    r = trial.last_result or {}
    if trial.status == "ERROR":
        return "errored"
    if r.get("epochs") and r.get("epoch", 0) >= r["epochs"]:
        return "completed"
    return "stopped"


def _method_report(plan: Plan, trials: list[Any], outcome: dict[str, str], out_dir: str) -> bool:
    """The method's own search report, written into `out_dir`; True if it wrote anything."""
    assert plan.method.search_report is not None
    rows = [
        {
            "trial_id": t.trial_id,
            "outcome": outcome.get(t.trial_id, "errored"),
            "config": plan.resolved(dict(t.config)),
            "metrics": dict(t.last_result or {}),
        }
        for t in trials
    ]
    plan.method.search_report(rows, out_dir)
    return any(Path(out_dir).iterdir())


def summary_dict(summary: SearchSummary) -> dict[str, Any]:
    out = dataclasses.asdict(summary)
    if summary.promotion is not None:
        out["promotion"] = dataclasses.asdict(summary.promotion)
    return out
