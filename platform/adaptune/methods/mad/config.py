"""MADConfig: every knob of MAD (arXiv 2307.08528); defaults are a sane single CPU run.

    cfg = MADConfig(mode="mad", rank=36)        # factorised adapters, I = 36
    cfg = MADConfig(mode="bn_head")             # baseline: domain BN + heads only

Paper values are noted where the default differs (the paper adapts a ResNet-26 of
width 32 on 64x64 Visual Decathlon images for 120 epochs; here width 16, 32x32 digits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

DOMAINS = ("original", "inverted", "rotated", "noisy", "blurred", "tinted")
SOURCE = "original"  # the domain the shared base CNN is pretrained on

METRICS = (
    "val/acc",
    "val/score",
    "val/params_adapter",
    "val/params_domain",
    *(f"val/acc/{d}" for d in DOMAINS),
)


@dataclass(frozen=True)
class MADConfig:
    # mad = modulation adapters; bn_head = domain BN + heads only; finetune = a full
    # copy of every conv per domain. All keep BN and heads domain-specific.
    mode: Literal["mad", "bn_head", "finetune"] = "mad"
    rank: int = 0  # factorisation rank I of every alpha_d; 0 = full M x N (mad mode only)
    # Std of beta in the residual factorised form alpha = 1 + beta gamma^T (gamma = 0,
    # so alpha = 1 exactly at initialisation). Unused by the full form (alpha = 1 + 0).
    init_noise: float = 0.1
    # The ResNet-26-style base: conv 3->width, stages of 2, 4 and 8 x width (paper: 32).
    width: int = 16
    pretrain_epochs: int = 4  # of the base on the source domain, once, cached
    pretrain_lr: float = 0.05
    # Optimisation (paper: SGD momentum 0.9, lr 0.1, batch 128, 120 epochs, lr / 10 at
    # 2/3 and 5/6 of training, weight decay 1e-4). Decay pulls alpha toward 1, not 0.
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1.0e-4
    batch_size: int = 64  # every batch holds one domain
    epochs: int = 6
    seed: int = 0
    # Per-domain validation errors (fractions, in DOMAINS order) of a bn_head run: the
    # Decathlon score's E_max = 2 x these. Empty: val/score is NaN (not computable).
    baseline_errors: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.rank < 0:
            raise ValueError(f"rank must be >= 0 (0 = full), got {self.rank}")
        if self.width < 1 or self.epochs < 1 or self.batch_size < 2:
            raise ValueError("width >= 1, epochs >= 1 and batch_size >= 2 are required")
        if self.pretrain_epochs < 0 or self.init_noise < 0 or self.lr <= 0:
            raise ValueError("pretrain_epochs >= 0, init_noise >= 0 and lr > 0 are required")
        if not all(math.isfinite(e) and 0.0 <= e <= 1.0 for e in self.baseline_errors):
            raise ValueError("baseline_errors are fractions in [0, 1]")
