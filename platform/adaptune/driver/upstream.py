"""Every private Ray and Optuna-integration symbol the driver side uses, one function each.

Checked against ray 2.60.0 and optuna 5.0.0 (pyproject.toml pins both). Nothing else in
the package reaches under a public API: tests/unit/test_upstream.py imports every symbol
used here, so an upgrade that moves one fails there, naming it, in seconds, and the
layering test fails when a private name appears outside the two upstream modules
(this one, and train/upstream.py for what runs in trial actors).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "AUTH_LOGGER",
    "autoscaler_status",
    "bootstrap_address",
    "experiment_trials",
    "interrupt_tune",
    "loopback_node",
    "node_groups",
    "open_optuna_trial",
    "publish_node_groups",
    "replace_callbacks",
    "slow_callback_threshold",
    "walk_working_dir",
]

# The logger of Ray's token notice on every connection (ray 2.60: ray._private.authentication)
AUTH_LOGGER = "ray._private.authentication"


@contextlib.contextmanager
def loopback_node() -> Iterator[None]:
    """Ray 2.60 binds the GCS, raylet and worker gRPC servers, the dashboard agent, the
    runtime-env agent and both Prometheus metrics exporters to loopback only when the
    node's address is exactly 127.0.0.1; any other node address puts them on all
    interfaces (or the LAN address). But ray.init maps a loopback _node_ip_address to the
    LAN address unless its ENABLE_RAY_CLUSTER flag is off, and that flag is read from
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER once, when Ray is first imported (long before this
    runs). So the flag is off while this process starts the cluster, and only then.
    Private: ray._private.ray_constants.ENABLE_RAY_CLUSTER (ray 2.60.0)."""
    from ray._private import ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


def autoscaler_status(gcs_address: str) -> dict[str, Any]:
    """The autoscaler's last report (what `ray status` shows: pending launches, resource
    demand), {} when no autoscaler has reported (none runs). Its monitor publishes it in
    the GCS key-value store; there is no public reader.
    Private: ray._raylet.GcsClient, ray._private.ray_constants.DEBUG_AUTOSCALING_STATUS
    (ray 2.60.0)."""
    from ray._private import ray_constants
    from ray._raylet import GcsClient  # type: ignore[attr-defined]  # compiled, no stubs

    raw = GcsClient(address=gcs_address).internal_kv_get(
        ray_constants.DEBUG_AUTOSCALING_STATUS.encode(), None
    )
    return dict(json.loads(raw)) if raw else {}


def node_groups(gcs_address: str) -> list[dict[str, Any]]:
    """The node types the cluster may scale to, as published in the GCS (Ray's
    ClusterConfig, which Ray Data's autoscaling reads): [{"name", "resources", "min",
    "max"}], max -1 for no bound; [] when none is published (ray 2.60's own autoscalers
    do not publish it; adaptune's local one does, see publish_node_groups).
    Private: ray._raylet.GcsClient, GCS_AUTOSCALER_STATE_NAMESPACE,
    GCS_AUTOSCALER_CLUSTER_CONFIG_KEY (ray 2.60.0; ray._private.state.get_cluster_config
    reads the same key, but only once ray.init has run)."""
    from ray import _raylet
    from ray.core.generated import autoscaler_pb2

    raw = _raylet.GcsClient(address=gcs_address).internal_kv_get(  # type: ignore[attr-defined]
        _raylet.GCS_AUTOSCALER_CLUSTER_CONFIG_KEY.encode(),  # type: ignore[attr-defined]
        _raylet.GCS_AUTOSCALER_STATE_NAMESPACE.encode(),  # type: ignore[attr-defined]
    )
    if not raw:
        return []
    config = autoscaler_pb2.ClusterConfig.FromString(raw)  # type: ignore[attr-defined]
    return [
        {
            "name": g.name,
            "resources": {k: float(v) for k, v in g.resources.items()},
            "min": int(g.min_count),
            "max": int(g.max_count),
        }
        for g in config.node_group_configs
    ]


def publish_node_groups(gcs_address: str, groups: list[dict[str, Any]]) -> None:
    """Publish the node types an autoscaler may launch (node_groups' shape) in the GCS,
    where node_groups and Ray's own readers find them.
    Private: ray._raylet.GcsClient.report_cluster_config (ray 2.60.0)."""
    from ray._raylet import GcsClient  # type: ignore[attr-defined]  # compiled, no stubs
    from ray.core.generated import autoscaler_pb2

    config = autoscaler_pb2.ClusterConfig()  # type: ignore[attr-defined]
    for g in groups:
        group = config.node_group_configs.add()
        group.name, group.min_count, group.max_count = g["name"], g["min"], g["max"]
        # whole units (the message holds integers): a node's CPUs, GPUs, accelerator
        group.resources.update({k: int(v) for k, v in g["resources"].items()})
    GcsClient(address=gcs_address).report_cluster_config(config.SerializeToString())


TUNE_SIGINT_ENV = "TUNE_DISABLE_SIGINT_HANDLER"  # "1": Tune's fit leaves SIGINT alone


def bootstrap_address(address: str) -> str | None:
    """The host:port Ray's "auto" resolves to ($RAY_ADDRESS, else the address file of the
    last cluster started on this machine), None when there is none. Private:
    ray._private.services.canonicalize_bootstrap_address (ray 2.60.0)."""
    from ray._private.services import canonicalize_bootstrap_address

    try:
        return canonicalize_bootstrap_address(address)
    except ConnectionError:  # Ray's own "could not find any running Ray instance"
        return None


def interrupt_tune(signum: int) -> bool:
    """Stop the running fit as Tune's own SIGINT would (it saves the experiment state one
    last time and leaves its running trials resumable); False if no fit runs. Tune
    installs that handler for SIGUSR1 too, for the length of the fit, and nowhere exposes
    the event it sets. Private: ray.tune.tune._setup_signal_catching (ray 2.60.0)."""
    import signal

    handler = signal.getsignal(signal.SIGUSR1)
    if not callable(handler) or getattr(handler, "__module__", "") != "ray.tune.tune":
        return False
    handler(signum, None)
    return True


def replace_callbacks(tuner: Any, callbacks: list[Any], stop: Any = None) -> None:
    """A restored Tuner's callbacks and stopper: its saved run config holds the ones
    pickled at the start; Tuner.restore takes neither. Private: Tuner._local_tuner
    (ray 2.60.0)."""
    config = tuner._local_tuner.get_run_config()
    config.callbacks, config.stop = callbacks, stop


def experiment_trials(grid: Any) -> list[Any]:
    """Every trial of the experiment, those finished before a restore included (the
    ResultGrid's own list holds this session's only). The public road,
    tune.ExperimentAnalysis(grid.experiment_path), re-reads them from storage: new Trial
    objects, without this session's last results. Private: ResultGrid._experiment_analysis
    (ray 2.60.0)."""
    return list(grid._experiment_analysis.trials)


def open_optuna_trial(searcher: Any, trial_id: str) -> Any:
    """The Optuna trial behind Tune's `trial_id` if it has not been told its result yet,
    else None. Private: OptunaSearch._ot_trials, ._completed_trials (ray 2.60.0)."""
    if trial_id in searcher._completed_trials:
        return None
    return searcher._ot_trials.get(trial_id)


def slow_callback_threshold(seconds: float | None = None) -> float:
    """Tune's threshold (s) above which it warns that a callback "may be a performance
    bottleneck"; set it when `seconds` is given. Returns the one before.
    Private: ray.tune.utils.util.warn_if_slow.DEFAULT_THRESHOLD (ray 2.60.0)."""
    from ray.tune.utils.util import warn_if_slow

    before = float(warn_if_slow.DEFAULT_THRESHOLD)
    if seconds is not None:
        warn_if_slow.DEFAULT_THRESHOLD = seconds
    return before


def walk_working_dir(root: Path, excludes: Sequence[str], add: Callable[[Path], None]) -> None:
    """Call `add` on every path Ray would pack from `root` as a job's working_dir, with
    the same excludes and .gitignore rules; there is no public walker.
    Private: ray._private.runtime_env.packaging._dir_travel, _get_excludes,
    ray_constants.RAY_RUNTIME_ENV_IGNORE_GITIGNORE (ray 2.60.0)."""
    import logging
    import os

    from ray._private import ray_constants
    from ray._private.runtime_env.packaging import _dir_travel, _get_excludes

    gitignore = os.environ.get(ray_constants.RAY_RUNTIME_ENV_IGNORE_GITIGNORE, "0") != "1"
    quiet = logging.getLogger(__name__)  # Ray's walk logs every ignore file it reads
    skip = [_get_excludes(root, list(excludes))]
    _dir_travel(root, skip, add, include_gitignore=gitignore, logger=quiet)
