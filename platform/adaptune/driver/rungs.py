"""ASHA's rungs as the driver sees them, so a stopped trial can be told what it missed.

    rungs = AshaRungs(grace_period=1, max_t=4, reduction_factor=2, mode="min")
    cut = rungs.on_result("ab12", epoch=1, value=0.31)   # Cut(rung=1, cutoff=0.27, ...)
    cut.text("val/mse")      # "val/mse 0.31 vs rung-1 cutoff 0.27 (epoch 1, lower is better)"

Tune shows its callbacks each result after the scheduler decided on it, in the order the
scheduler saw them, so replaying Ray's bookkeeping here gives the very cutoff the trial
was held to. Mirrors ``ray.tune.schedulers.async_hyperband._Bracket`` with one bracket
(Ray's default): milestones grace · rf^k below max_t; at each, the cutoff is the
(1 - 1/rf) percentile of the values recorded there before, and a trial is stopped when
its value is worse. A result at max_t completes the trial and is not recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from adaptune.job.objective import Mode

__all__ = ["AshaRungs", "Cut"]


@dataclass(frozen=True)
class Cut:
    rung: int  # 1 = the lowest rung
    epoch: float  # the rung's milestone
    value: float  # the trial's objective there
    cutoff: float | None  # None: the first trial to reach the rung (nothing to beat)
    passed: bool
    mode: str

    def text(self, metric: str) -> str:
        if self.cutoff is None:
            first = f"the first at rung {self.rung} (epoch {self.epoch:g})"
            return f"{metric} {self.value:.4g}, {first}"
        return (
            f"{metric} {self.value:.4g} vs rung-{self.rung} cutoff {self.cutoff:.4g} "
            f"(epoch {self.epoch:g}, {Mode(self.mode).word} is better)"
        )


class AshaRungs:
    def __init__(self, grace_period: float, max_t: int, reduction_factor: float, mode: str):
        self.max_t, self.rf, self.mode = max_t, reduction_factor, mode
        self.sign = -1.0 if mode == "min" else 1.0  # Ray records metric * metric_op
        count = int(math.log(max_t / grace_period) / math.log(reduction_factor) + 1)
        self.milestones = [grace_period * reduction_factor**k for k in range(max(count, 0))]
        self.recorded: list[dict[str, float]] = [{} for _ in self.milestones]
        self.cuts: dict[str, Cut] = {}  # trial id -> the last rung it met

    def on_result(self, trial_id: str, epoch: float, value: float | None) -> Cut | None:
        """Record a result as ASHA does; the rung it met, if any."""
        if value is None or epoch >= self.max_t or not math.isfinite(value):
            return None
        for i in reversed(range(len(self.milestones))):  # the highest rung reached first
            milestone, recorded = self.milestones[i], self.recorded[i]
            if epoch < milestone or trial_id in recorded:
                continue
            before = list(recorded.values())
            signed = self.sign * value
            cutoff = float(np.nanpercentile(before, (1 - 1 / self.rf) * 100)) if before else None
            recorded[trial_id] = signed
            cut = Cut(
                rung=i + 1,
                epoch=milestone,
                value=value,
                cutoff=None if cutoff is None else self.sign * cutoff,
                passed=cutoff is None or not signed < cutoff,
                mode=self.mode,
            )
            self.cuts[trial_id] = cut
            return cut
        return None
