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
SOURCE = "original"  # the domain the shared base CNN is pretrained on (used unchanged)

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
    # copy of every conv per domain; residual = Rebuffi et al.'s parallel 1x1 adapters
    # (M x N per conv: the same added parameters as full MAD). All keep BN and heads
    # domain-specific; the source domain uses the base unchanged (the Decathlon rule).
    mode: Literal["mad", "bn_head", "finetune", "residual"] = "mad"
    rank: int = 0  # factorisation rank I of every alpha_d; 0 = full M x N (mad mode only)
    # Rank I > 0 only. residual: alpha = 1 + beta gamma^T, a rank-I offset from the
    # identity (gamma = 0, beta ~ N(0, init_noise)); product: the paper's alpha = beta
    # gamma^T (rank <= I), both factors 1/sqrt(I) (1 + init_noise * N(0, 1)).
    factor_form: Literal["residual", "product"] = "residual"
    init_noise: float = 0.1  # unused by the full form (alpha = 1 + 0)
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
    # Per-domain errors (fractions, in the data's domain order) of the FINE-TUNING baseline: the
    # Decathlon score's E_max = 2 x these (fine-tuning itself then scores 250 a domain).
    # Empty: val/score is NaN. A comparison job scores every arm against its finetune
    # arm's test errors instead (methods/mad/report.py).
    baseline_errors: tuple[float, ...] = ()
    # A torch state dict file of the ResNet-26 base (its keys and shapes: model.py) to
    # start the frozen base from instead of pretraining it; validate refuses a mismatch.
    checkpoint: str = ""

    def __post_init__(self) -> None:
        if self.rank < 0:
            raise ValueError(f"rank must be >= 0 (0 = full), got {self.rank}")
        if self.width < 1 or self.epochs < 1 or self.batch_size < 2:
            raise ValueError("width >= 1, epochs >= 1 and batch_size >= 2 are required")
        if self.pretrain_epochs < 0 or self.init_noise < 0 or self.lr <= 0:
            raise ValueError("pretrain_epochs >= 0, init_noise >= 0 and lr > 0 are required")
        if not all(math.isfinite(e) and 0.0 <= e <= 1.0 for e in self.baseline_errors):
            raise ValueError("baseline_errors are fractions in [0, 1]")
