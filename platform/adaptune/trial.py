"""run_trial: the Tune trainable. One call = one trial = one Ray Train run.

Kept free of heavy imports: every trial actor imports this module.
"""

from __future__ import annotations

from typing import Any


def run_trial(params: dict[str, Any], *, setup: dict[str, Any]) -> None:
    """Launch a TorchTrainer whose workers report per-epoch metrics back to Tune (or, for
    one worker, run its loop in this trial actor: see local_trial.py)."""
    from ray import tune

    from adaptune.worker import train_loop_per_worker

    trial_id = tune.get_context().get_trial_id()
    res = setup["resources"]
    if setup.get("in_actor"):
        from adaptune.local_trial import run_in_actor

        return run_in_actor(
            train_loop_per_worker,
            {
                "method": setup["method"],
                "params": {**setup["fixed"], **params},
                "data": setup["data"],
                "cache_dir": setup["cache_dir"],
                "threads": max(1, int(res["cpus_per_worker"])),
            },
            run_name=f"{setup['search']}-{trial_id}",
            storage_path=setup["storage_path"],
        )
    import os

    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    # The controller polls its workers for reports and for the end of training every 2 s
    # by default: up to 2 s late per epoch and per trial. A poll is one cheap actor call.
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25")
    per_worker = {"CPU": res["cpus_per_worker"]}
    if setup["use_gpu"]:
        per_worker["GPU"] = res["gpus_per_worker"]
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "method": setup["method"],
            "params": {**setup["fixed"], **params},
            "data": setup["data"],
            "cache_dir": setup["cache_dir"],
            "threads": max(1, int(res["cpus_per_worker"])),
        },
        scaling_config=ScalingConfig(
            num_workers=res["workers_per_trial"],
            use_gpu=setup["use_gpu"],
            resources_per_worker=per_worker,
        ),
        run_config=RunConfig(
            name=f"{setup['search']}-{trial_id}",
            storage_path=setup["storage_path"],
            callbacks=[TuneReportCallback()],  # type: ignore[list-item]
            # Workers restart from the last end-of-epoch checkpoint (see worker.py); only
            # the newest is kept: it is all a restart needs.
            failure_config=FailureConfig(max_failures=int(res.get("trial_retries", 1))),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
    )
    trainer.fit()
