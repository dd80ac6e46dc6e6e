"""A trial's ``resources:``, checked by Ray's rules before Ray starts: Ray counts a
resource in 0.0001s (it refuses less, once started, and rounds a request to its unit), a
GPU above 1 in whole GPUs, and a share of one so that 1/n trials fill it.

    resources: {workers_per_trial: 1, cpus_per_worker: 2, gpus_per_worker: 0.25}
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adaptune.job.yamlfile import KeyedValueError

__all__ = ["ResourceSpec"]


class ResourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    workers_per_trial: int = Field(1, ge=1)
    use_gpu: bool | Literal["auto"] = "auto"
    cpus_per_worker: float = Field(1.0, gt=0)
    gpus_per_worker: float = Field(1.0, gt=0)  # whole GPUs, or 1/n: n trials share one
    # Restarts of a trial's worker group after a failure (a worker process or node died,
    # or the loss went non-finite), each from the trial's last end-of-epoch checkpoint.
    trial_retries: int = Field(1, ge=0)
    # auto: a one-worker trial trains in its Tune trial actor, no Ray Train worker group
    # (~15 s less per trial on a 2-core CPU; see README, Benchmarks); always: a worker
    # group for every trial, so a worker whose process or node dies is restarted too.
    worker_group: Literal["auto", "always"] = "auto"
    # On an autoscaling cluster: how long trials may wait with none running for a node to
    # come before the search stops with an error (it stays resumable).
    node_wait_s: float = Field(600.0, gt=0)
    # Ray's accelerator (A10G, H100, ...): workers ask for a sliver, so trials land on those nodes
    accelerator_type: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")

    @field_validator("gpus_per_worker")
    @classmethod
    def _gpu_share(cls, v: float) -> float:
        return gpu_share(v)

    @field_validator("cpus_per_worker")
    @classmethod
    def _cpu_share(cls, v: float) -> float:
        if round(v * RAY_UNITS) == 0:  # Ray refuses it, once started
            raise ValueError(f"{v:g} CPU is below Ray's granularity (0.0001)")
        return v

    @model_validator(mode="after")
    def _shared_gpu_one_worker(self) -> ResourceSpec:
        if self.gpus_per_worker < 1 and self.workers_per_trial > 1:
            raise KeyedValueError(  # the key in full: pydantic gives a model's error no path
                "resources.gpus_per_worker",
                f"{self.gpus_per_worker:g} of a GPU per worker needs workers_per_trial: 1 "
                "(NCCL refuses two ranks of one trial on one GPU)",
            )
        return self


RAY_UNITS = 10_000  # Ray counts a resource in 0.0001s, rounding a request to the nearest


def gpu_share(v: float) -> float:
    """Ray's rule for a GPU request: a whole number above 1; at most 1, a share that
    divides one GPU evenly (1/v whole, to 2 %), so that 1/v trials fill it, and that Ray,
    counting in 0.0001s, packs as 1/v trials."""
    if v > 1 and v != int(v):
        raise ValueError(f"{v:g} GPUs: above 1 it must be a whole number (Ray's rule)")
    if v >= 1:
        return v
    if abs(1 / v - round(1 / v)) > 0.02 * round(1 / v):
        raise ValueError(
            f"{v:g} of a GPU does not divide it evenly: use 1/n (0.5, 0.33, 0.25, 0.2, ...)"
        )
    units, n = round(v * RAY_UNITS), round(1 / v)
    if units == 0:
        raise ValueError(f"{v:g} of a GPU is below Ray's granularity (0.0001)")
    if RAY_UNITS // units != n:  # max_concurrent: auto runs n trials per GPU
        down = RAY_UNITS // n  # the share rounded down to Ray's unit, if n of it fit
        fix = f"{down / RAY_UNITS:g}" if RAY_UNITS // down == n else "a share of at least 0.01"
        raise ValueError(
            f"{v:g} of a GPU fits {RAY_UNITS // units} trials on a GPU, not {n}: Ray counts "
            f"in 0.0001s and holds {units / RAY_UNITS:g} per trial; use {fix}"
        )
    return v
