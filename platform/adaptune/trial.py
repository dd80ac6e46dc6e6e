"""run_trial: the Tune trainable. One call = one trial = one Ray Train run.

Kept free of heavy imports: every trial actor imports this module.
"""

from __future__ import annotations

from typing import Any


def run_trial(params: dict[str, Any], *, setup: dict[str, Any]) -> None:
    """Launch a TorchTrainer whose workers report per-epoch metrics back to Tune."""
    from ray import tune
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    from adaptune.worker import train_loop_per_worker

    trial_id = tune.get_context().get_trial_id()
    res = setup["resources"]
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
            failure_config=FailureConfig(max_failures=0),
        ),
    )
    trainer.fit()
