"""run_trial: the Tune trainable. One call = one trial.

    setup = TrialSetup(method="dao", fixed={...}, data={...}, ...)   # built by the driver
    tune.with_resources(functools.partial(run_trial, setup=setup), ...)

A one-worker trial trains in its Tune trial actor (local_trial.py); several workers get
a Ray Train worker group. Kept free of heavy imports: every trial actor imports this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrialSetup", "run_trial"]


@dataclass(frozen=True)
class TrialSetup:
    """Everything a trial needs besides its sampled params: validated and plain, so it
    pickles to every trial actor and into Tune's saved state."""

    method: str
    fixed: dict[str, Any]  # the job's fixed config values (validated by plan.py)
    data: dict[str, Any]  # DataSpec.model_dump(), paths resolved
    cache_dir: str
    search: str  # the search's name: trial run folders are <search>-<trial id>
    storage_path: str
    in_actor: bool  # one worker: train in the trial actor, no worker group
    use_gpu: bool = False
    # Test-only (ADAPTUNE_FAKE_GPU, driver/nodes.py): trials hold the GPUs Ray accounts on
    # nodes without CUDA (the fake autoscaling provider's) and train on the CPU.
    fake_gpu: bool = False
    workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    retries: int = 1  # restarts of a worker group from its last checkpoint
    # custom resources each worker asks for: an accelerator's sliver (resources.accelerator_type)
    worker_resources: dict[str, float] = field(default_factory=dict)
    # Inductor's and Triton's on-disk caches, one folder per search on each node: a
    # `compile: true` model is compiled by the search's first trial of each shape, and
    # later trials load the kernels (train/worker.py, use_compile_cache). "" = torch's own.
    compile_cache: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # seeded re-runs: {"seed": k}
    # A method added by register_method in the driver (a notebook's): trial processes
    # cannot import it by name, so its Method object travels with the trial (cloudpickle).
    registered: Any = None

    def loop_config(self, params: dict[str, Any]) -> dict[str, Any]:
        """The worker loop's config (train/worker.py): fixed, then sampled, values."""
        return {
            "method": self.method,
            "params": {**self.fixed, **params, **self.extra},
            "data": self.data,
            "cache_dir": self.cache_dir,
            "compile_cache": self.compile_cache,
            "threads": max(1, int(self.cpus_per_worker)),
            "gpu": "fake" if self.fake_gpu else "yes" if self.use_gpu else "",
            "registered": self.registered,
        }


def run_trial(params: dict[str, Any], *, setup: TrialSetup) -> None:
    """Train one trial; its workers report per-epoch metrics back to Tune."""
    from ray import tune

    from adaptune.train.worker import train_loop_per_worker

    trial_id = tune.get_context().get_trial_id()
    run_name = f"{setup.search}-{trial_id}"
    if setup.in_actor:
        from adaptune.train.local_trial import run_in_actor

        return run_in_actor(
            train_loop_per_worker,
            setup.loop_config(params),
            run_name=run_name,
            storage_path=setup.storage_path,
        )
    import os

    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    # The controller polls its workers for reports and for the end of training every 2 s
    # by default: up to 2 s late per epoch and per trial. A poll is one cheap actor call.
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25")
    per_worker = {"CPU": setup.cpus_per_worker, **setup.worker_resources}
    if setup.use_gpu:
        per_worker["GPU"] = setup.gpus_per_worker
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=setup.loop_config(params),
        # a fake GPU has no CUDA for NCCL: its workers talk over gloo, as CPU workers do
        torch_config=TorchConfig(backend="gloo") if setup.fake_gpu else None,
        scaling_config=ScalingConfig(
            num_workers=setup.workers,
            use_gpu=setup.use_gpu,
            resources_per_worker=per_worker,
        ),
        run_config=RunConfig(
            name=run_name,
            storage_path=setup.storage_path,
            callbacks=[TuneReportCallback()],  # type: ignore[list-item]
            # Workers restart from the last end-of-epoch checkpoint (see worker.py); only
            # the newest is kept: it is all a restart needs.
            failure_config=FailureConfig(max_failures=setup.retries),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
    )
    trainer.fit()
