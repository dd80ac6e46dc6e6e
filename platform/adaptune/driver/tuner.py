"""Ray and the Tuner's parts: the cluster, where trials go, the sampler and the scheduler.

    init_ray(address=None, verbose=False)     # a private local cluster, loopback only
    needs_dashboard([plan])                   # worker-group trials need Ray's dashboard
    placement = place(plan)                   # resolved once: GPU or not, concurrency
    tuner = make_tuner(plan, placement, trainable, callbacks, search, storage)

Ray: a local cluster on 127.0.0.1 unless ``address`` (or RAY_ADDRESS) names one.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptune.driver import upstream
from adaptune.job.yamlfile import SpecError
from adaptune.plan import Plan, check_resources, trial_resources, uses_gpu
from adaptune.train import report as rk

if TYPE_CHECKING:
    from adaptune.driver.searcher import WarmStart
    from adaptune.job.spec import JobSpec

__all__ = [
    "Placement",
    "init_ray",
    "make_sampler",
    "make_scheduler",
    "make_tuner",
    "needs_dashboard",
    "place",
    "placement_for",
]

# A worker-group trial's driver only waits on its TorchTrainer: it holds no CPU, so the
# workers get them all. Tune needs a non-empty bundle, hence a token amount of memory.
DRIVER_RESOURCES: dict[str, float] = {"cpu": 0, "memory": 64 * 1024**2}


LOOPBACK = "127.0.0.1"


def init_ray(address: str | None, verbose: bool, dashboard: bool = True) -> str | None:
    """Connect to the cluster at `address` (checked to answer first: a dead one fails in
    seconds, not after Ray's endless retries), else start a private local cluster with
    every service listening on 127.0.0.1 only, with Ray's dashboard if `dashboard`.
    Returns the dashboard's URL when this call started one."""
    import ray

    if ray.is_initialized():
        return None
    address = address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"log_to_driver": verbose, "configure_logging": verbose}
    if address:
        check_ray_address(address)
        # Ray dials a 127.0.0.1 cluster address at the LAN address unless its cluster flag
        # is off (see _loopback_node): a loopback cluster is then reached where it listens.
        host = address.removeprefix("ray://").rpartition(":")[0]
        with upstream.loopback_node() if host == LOOPBACK else contextlib.nullcontext():
            ray.init(address=address, **kwargs)
        return None
    # Inherited by the raylet, agents and workers (each imports Ray afresh): their node
    # address is then loopback too (see _loopback_node).
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    # Worker groups queue behind each other's CPUs on a small machine: wait, don't fail.
    os.environ.setdefault("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", "900")
    url = None
    local: dict[str, Any] = {"include_dashboard": False}
    if dashboard:
        # Train V2 frees a stopped trial's placement group from an actor that asks the
        # State API whether the controller died; with no address it guesses, and fails
        # when a second Ray instance runs on the machine ("multiple active Ray
        # instances"), which leaks the CPUs. Pin the dashboard port and hand its URL to
        # every worker.
        port = _free_port()
        url = f"http://{LOOPBACK}:{port}"
        local = {
            "include_dashboard": True,
            "dashboard_host": LOOPBACK,
            "dashboard_port": port,
            "runtime_env": {"env_vars": {"RAY_API_SERVER_ADDRESS": url}},
        }
    with upstream.loopback_node():
        ray.init(_node_ip_address=LOOPBACK, **local, **kwargs)
    return url


def needs_dashboard(plans: list[Plan]) -> bool:
    """Whether a local cluster for these searches needs Ray's dashboard: worker-group
    trials do (Train V2 frees a stopped trial's placement group through the State API,
    which the dashboard serves); trials that train in their own actor do not, and a
    cluster without it starts ~2 s sooner on a 2-core machine (docs/benchmarks.md)."""
    return not all(trains_in_actor(plan.job) for plan in plans)


def trains_in_actor(job: JobSpec) -> bool:
    """A one-worker trial trains in its Tune trial actor, not in a Ray Train worker group
    (unless the job asks for worker groups always)."""
    return job.resources.workers_per_trial == 1 and job.resources.worker_group == "auto"


def check_ray_address(address: str, timeout_s: float = 5.0) -> None:
    """ConnectionError (one line) when nothing listens at a "host:port" or
    "ray://host:port" cluster address, or at the cluster "auto" finds (Ray's own lookup:
    $RAY_ADDRESS, else the last cluster started on this machine; Ray would retry a dead
    one for ever); "local" is Ray's to start."""
    import socket

    if address == "auto":
        found = upstream.bootstrap_address(address)
        if found is None:
            raise ConnectionError("RAY_ADDRESS=auto: no running Ray cluster on this machine")
        try:
            check_ray_address(found, timeout_s)
        except ConnectionError as e:
            raise ConnectionError(f"{e} (the cluster address 'auto' found)") from None
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or "/" in target:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as e:
        reason = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise ConnectionError(f"no Ray cluster answers at {address} ({reason})") from None


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
            # Tune's names for the built-in ones; custom resources keep their case
            return {k.lower() if k in ("CPU", "GPU") else k: v for k, v in self.per_trial.items()}
        return dict(DRIVER_RESOURCES)


def place(plan: Plan) -> Placement:
    """Check one trial fits the cluster (SpecError if not): its nodes alive and, where an
    autoscaler runs, the node types it can launch (driver/nodes.py); resolve the GPU
    choice and how many trials run at once."""
    import ray

    from adaptune.driver import nodes
    from adaptune.driver.console import CONSOLE

    cluster = {k: float(v) for k, v in ray.cluster_resources().items()}
    if autoscaling():  # nodes come as trials ask: the node types say what can come
        types = nodes.node_types(ray.get_runtime_context().gcs_address)
        if types:
            nodes.refuse_gpu_nowhere(plan.job, cluster, types)
            cluster = nodes.reachable(cluster, types)
        else:  # types unknown: one trial's needs are taken to be launchable
            need = trial_resources(plan.job, plan.job.resources.use_gpu is True)
            cluster = {**cluster, **{k: max(v, cluster.get(k, 0.0)) for k, v in need.items()}}
    placement = placement_for(plan, cluster)
    if nodes.fake_gpu() and not placement.use_gpu:
        CONSOLE.say(f"{nodes.FAKE_GPU_ENV} is set (a test-only switch), but trials use no GPU")
    return placement


def autoscaling() -> bool:
    """Whether Ray's autoscaler runs on the connected cluster: its monitor has reported."""
    import ray

    return bool(upstream.autoscaler_status(ray.get_runtime_context().gcs_address))


def placement_for(plan: Plan, cluster: dict[str, float]) -> Placement:
    """`place` against the cluster's resources given. A fraction of a GPU per trial packs
    several trials on each GPU (Ray's fractional scheduling), so `max_concurrent: auto`
    is trials per GPU times GPUs, or fewer when the CPUs run out first."""
    job = plan.job
    problems = check_resources(job, cluster)
    if problems:  # refused before anything starts
        raise SpecError(problems)
    use_gpu = uses_gpu(job, cluster)
    need = trial_resources(job, use_gpu)
    if job.the_search.max_concurrent != "auto":
        concurrent = int(job.the_search.max_concurrent)
    else:
        fits = min(math.floor(cluster.get(k, 0.0) / v + 1e-9) for k, v in need.items() if v > 0)
        concurrent = max(1, min(fits, plan.num_samples))
    return Placement(use_gpu, concurrent, trains_in_actor(job), need)


# A search of at most this many trials: TPE models after 3 random trials, not Optuna's 10
# (docs/benchmarks.md: fewer start-up trials reached the recorded grids' best sooner).
SMALL_BUDGET, SMALL_BUDGET_STARTUP = 32, 3


def make_sampler(plan: Plan) -> Any:
    """The Optuna sampler the job names, with its checked `sampler_options`."""
    import optuna

    from adaptune.job.algorithms import sampler_options
    from adaptune.job.space import grid_of

    s = plan.job.the_search
    seed, kind = s.seed, s.sampler
    options = sampler_options(kind, s.sampler_options)
    if kind == "tpe":
        if "n_startup_trials" not in options and plan.num_samples <= SMALL_BUDGET:
            options["n_startup_trials"] = SMALL_BUDGET_STARTUP
        return optuna.samplers.TPESampler(seed=seed, **options)
    if kind == "gp":  # Optuna's Gaussian-process sampler (needs torch and scipy)
        return optuna.samplers.GPSampler(seed=seed, **options)
    if kind == "nsga2":
        crossover = _crossover(options.pop("crossover", "uniform"))
        return optuna.samplers.NSGAIISampler(seed=seed, crossover=crossover, **options)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, **options)
    if kind == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, **options)
    return optuna.samplers.GridSampler(grid_of(plan.space), seed=seed)


def _crossover(name: str) -> Any:
    from optuna.samplers import nsgaii

    kinds = {
        "uniform": nsgaii.UniformCrossover,
        "blxalpha": nsgaii.BLXAlphaCrossover,
        "sbx": nsgaii.SBXCrossover,
        "vsbx": nsgaii.VSBXCrossover,
    }
    return kinds[name]()


def make_scheduler(plan: Plan) -> Any:
    """The Ray scheduler the job names; every one stops on the first objective."""
    from ray.tune.schedulers import (
        ASHAScheduler,
        FIFOScheduler,
        HyperBandScheduler,
        MedianStoppingRule,
    )

    s = plan.job.the_search.scheduler
    metric, first = plan.objectives[0]
    mode = str(first)  # Ray's schedulers compare types: a plain str
    if s.type == "fifo":
        return FIFOScheduler()
    common: dict[str, Any] = {"time_attr": rk.EPOCH, "metric": metric, "mode": mode}
    if s.type == "hyperband":  # synchronous: trials wait (paused) for their bracket's rung
        return HyperBandScheduler(
            **common, max_t=plan.max_t, reduction_factor=s.reduction_factor, stop_last_trials=True
        )
    if s.type == "median":
        return MedianStoppingRule(
            **common,
            grace_period=s.grace_period,
            min_samples_required=s.min_samples_required,
            hard_stop=True,
        )
    return ASHAScheduler(
        **common,
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
    callbacks: list[Any],
    search: str,
    storage: str,
    *,
    restore: bool = False,
    warm: WarmStart | None = None,
    study: str | None = None,
    stop: Any = None,
) -> Any:
    """A new Tuner for the search (its first trials `warm`'s, its Optuna study kept at the
    URL `study`), or (`restore`) the saved one with these callbacks; `stop`: a Tune
    Stopper (driver/budget.py's)."""
    from ray import tune

    from adaptune.driver.searcher import make_searcher

    trainable = tune.with_resources(trainable, placement.actor_resources)
    if restore:
        tuner = tune.Tuner.restore(f"{storage.rstrip('/')}/{search}", trainable)
        # The saved run config holds the callbacks pickled at the start (no run ids yet);
        # this session's, whose recorder knows the existing runs, replace them.
        upstream.replace_callbacks(tuner, callbacks, stop)
        return tuner
    job = plan.job
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=make_searcher(plan, make_sampler(plan), warm, study=study, name=search),
            scheduler=make_scheduler(plan),
            num_samples=plan.num_samples,
            max_concurrent_trials=placement.max_concurrent,
            reuse_actors=placement.in_actor,
        ),
        run_config=tune.RunConfig(
            name=search,
            storage_path=storage,
            callbacks=callbacks,
            stop=stop,
            verbose=0,
            # A checkpoint reported to Tune itself: only the newest (trials report theirs as
            # a path, kept one per trial by Ray Train or InActorTrain).
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            # In-actor trials are restarted by Tune (worker groups by Ray Train).
            failure_config=tune.FailureConfig(
                max_failures=job.resources.trial_retries if placement.in_actor else 0
            ),
        ),
    )
