"""DANNConfig: every knob of the DANN method; the defaults are a sane single CPU run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

METRICS = ("val/acc", "val/loss", "val/domain_acc")


@dataclass(frozen=True)
class DANNConfig:
    # Encoder: mean of word embeddings (EmbeddingBag) -> Linear -> ReLU: the features.
    embedding_dim: int = 32
    hidden: int = 64
    max_len: int = 32  # tokens per review (DAMA's tokenisation: lower-cased whitespace)
    max_vocab: int = 5000
    dropout: float = 0.1
    # Gradient reversal: the encoder receives -lambda_p times the domain loss's gradient.
    grl_lambda: float = 0.3
    # "ganin": lambda_p ramps from 0 to grl_lambda over training (the paper's schedule,
    # so the domain head is trained before it steers the encoder); "constant": grl_lambda.
    grl_schedule: Literal["ganin", "constant"] = "ganin"
    domain_hidden: int = 32
    lr: float = 1.0e-2
    # "ganin": lr_p = lr / (1 + 10 p) ** 0.75, the paper's annealing; "constant": lr.
    lr_schedule: Literal["ganin", "constant"] = "ganin"
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 3
    seed: int = 42

    def __post_init__(self) -> None:
        if self.grl_lambda < 0:
            raise ValueError(f"grl_lambda must be >= 0, got {self.grl_lambda}")
        if self.lr <= 0 or not 0 <= self.dropout < 1:
            raise ValueError("lr > 0 and 0 <= dropout < 1 are required")
        if self.epochs < 1 or self.batch_size < 2 or self.max_len < 1:
            raise ValueError("epochs >= 1, batch_size >= 2 and max_len >= 1 are required")
