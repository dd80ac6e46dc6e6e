"""The DANN network: encoder -> sentiment head, and encoder -> GRL -> domain classifier.

model = DANN(Arch(vocab_size=500, n_domains=16))
sent_logits, dom_logits = model(ids, grl=0.3)    # ids: (B, max_len), 0 = padding
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from adaptune.methods.dama.model import PAD


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient times -weight backward (the encoder climbs the
    domain loss the domain head descends)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.weight * grad, None


@dataclass(frozen=True)
class Arch:
    vocab_size: int
    n_domains: int
    n_classes: int = 2
    embedding_dim: int = 32
    hidden: int = 64
    domain_hidden: int = 32
    max_len: int = 32
    dropout: float = 0.1

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Arch:
        return cls(**json.loads(path.read_text()))


class DANN(nn.Module):
    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.arch = arch
        self.embed = nn.EmbeddingBag(
            arch.vocab_size, arch.embedding_dim, mode="mean", padding_idx=PAD
        )
        self.features = nn.Sequential(
            nn.Linear(arch.embedding_dim, arch.hidden), nn.ReLU(), nn.Dropout(arch.dropout)
        )
        self.sentiment = nn.Linear(arch.hidden, arch.n_classes)
        self.domain = nn.Sequential(
            nn.Linear(arch.hidden, arch.domain_hidden),
            nn.ReLU(),
            nn.Linear(arch.domain_hidden, arch.n_domains),
        )
        # Optimiser steps taken (a buffer: saved and restored with a checkpoint, so the
        # GRL and LR schedules resume where they were).
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.total_steps = 1  # set by build_optimizers: the schedules' 100 %

    steps_done: torch.Tensor

    def progress(self) -> float:
        return min(1.0, float(self.steps_done) / max(1, self.total_steps))

    def count_step(self) -> None:
        self.steps_done += 1

    def forward(self, ids: torch.Tensor, grl: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(self.embed(ids))
        return self.sentiment(h), self.domain(GradientReversal.apply(h, grl))


def unwrap(model: nn.Module) -> DANN:
    """The DANN inside a DistributedDataParallel wrapper (several workers per trial)."""
    inner = getattr(model, "module", model)
    assert isinstance(inner, DANN), type(inner)
    return inner
