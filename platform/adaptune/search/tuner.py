"""Ray and the Tuner's parts: the cluster, where trials go, the sampler and the scheduler.

    init_ray(address=None, verbose=False)     # a private local cluster on 127.0.0.1
    placement = place(plan)                   # resolved once: GPU or not, concurrency
    tuner = make_tuner(plan, placement, trainable, callback, search, storage)

Ray: a local cluster on 127.0.0.1 unless ``address`` (or RAY_ADDRESS) names one.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptune.job.yamlfile import SpecError
from adaptune.plan import Plan, check_resources, trial_resources

__all__ = ["Placement", "init_ray", "make_sampler", "make_scheduler", "make_tuner", "place"]

# A worker-group trial's driver only waits on its TorchTrainer: it holds no CPU, so the
# workers get them all. Tune needs a non-empty bundle, hence a token amount of memory.
DRIVER_RESOURCES: dict[str, float] = {"cpu": 0, "memory": 64 * 1024**2}


def init_ray(address: str | None, verbose: bool) -> None:
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"log_to_driver": verbose, "configure_logging": verbose}
    if address:
        ray.init(address=address, **kwargs)
        return
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


@dataclass(frozen=True)
class Placement:
    """Where a search's trials run, resolved once against the cluster."""

    use_gpu: bool
    max_concurrent: int
    in_actor: bool  # one worker per trial: the Tune trial actor trains itself
    per_trial: dict[str, float]  # what one trial holds: {"CPU": 1.0, "GPU": ...}

    @property
    def actor_resources(self) -> dict[str, float]:
        """The trial actor's bundle: the whole trial in-actor, a token for a driver."""
        if self.in_actor:
            return {k.lower(): v for k, v in self.per_trial.items()}
        return dict(DRIVER_RESOURCES)


def place(plan: Plan) -> Placement:
    """Check one trial fits the running cluster (SpecError if not) and resolve the GPU
    choice and how many trials run at once."""
    import ray

    job = plan.job
    cluster = {k: float(v) for k, v in ray.cluster_resources().items()}
    problems = check_resources(job, cluster)
    if problems:  # refused before anything starts
        raise SpecError(problems)
    use_gpu = job.resources.use_gpu is True or (
        job.resources.use_gpu == "auto" and cluster.get("GPU", 0) > 0
    )
    need = trial_resources(job, use_gpu)
    if job.the_search.max_concurrent != "auto":
        concurrent = int(job.the_search.max_concurrent)
    else:
        fits = min(math.floor(cluster.get(k, 0.0) / v + 1e-9) for k, v in need.items() if v > 0)
        concurrent = max(1, min(fits, plan.num_samples))
    in_actor = job.resources.workers_per_trial == 1 and job.resources.worker_group == "auto"
    return Placement(use_gpu, concurrent, in_actor, need)


def make_sampler(plan: Plan) -> Any:
    import optuna

    from adaptune.job.space import grid_of

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


def storage_location(configured: str | None, state_dir: Path) -> str:
    """Tune/Train state: the job's storage_path, else $ADAPTUNE_STORAGE_PATH, else the state
    folder. A URI (s3://, gs://, ...) goes to pyarrow's filesystems untouched; a shared one
    (NFS or a bucket) lets any node resume a search."""
    where = configured or os.environ.get("ADAPTUNE_STORAGE_PATH")
    if not where:
        return str(state_dir / "ray")
    return where if "://" in where else str(Path(where).expanduser().resolve())


def make_tuner(
    plan: Plan,
    placement: Placement,
    trainable: Any,
    callback: Any,
    search: str,
    storage: str,
    *,
    restore: bool = False,
) -> Any:
    """A new Tuner for the search, or (`restore`) the saved one with this callback."""
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    trainable = tune.with_resources(trainable, placement.actor_resources)
    if restore:
        tuner = tune.Tuner.restore(f"{storage.rstrip('/')}/{search}", trainable)
        # The saved run config holds the callback pickled at the start (no run ids yet);
        # this session's callback, which knows the existing runs, replaces it.
        tuner._local_tuner.get_run_config().callbacks = [callback]  # type: ignore[union-attr]
        return tuner
    job = plan.job
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=OptunaSearch(
                space=plan.space, metric=plan.metric, mode=plan.mode, sampler=make_sampler(plan)
            ),
            scheduler=make_scheduler(plan),
            num_samples=plan.num_samples,
            max_concurrent_trials=placement.max_concurrent,
            reuse_actors=placement.in_actor,
        ),
        run_config=tune.RunConfig(
            name=search,
            storage_path=storage,
            callbacks=[callback],
            verbose=0,
            # In-actor trials are restarted by Tune (worker groups by Ray Train).
            failure_config=tune.FailureConfig(
                max_failures=job.resources.trial_retries if placement.in_actor else 0
            ),
        ),
    )
