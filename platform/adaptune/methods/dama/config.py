"""DAMAConfig: every knob of DAMA (arXiv 2505.06630); defaults are a sane single CPU run.

    DAMAConfig(stage=1, gamma=0.05)                           # train the base BS_mtl
    DAMAConfig(stage=2, init_from="/path/to/stage1/model")     # modulate a trained base

Stage 2 takes the architecture, vocabulary and weights from `init_from` (a directory
written by save_model of a stage-1 trial); its own architecture fields are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .data import FDU_DOMAINS

METRICS = (
    "val/acc",
    "val/acc_last",
    "val/loss",
    "val/domain_acc",
    *(f"val/acc/{d}" for d in FDU_DOMAINS),
)


@dataclass(frozen=True)
class DAMAConfig:
    stage: Literal[1, 2] = 1
    init_from: str | None = None  # stage 2: a stage-1 model directory
    # Base BS_mtl: trainable word embeddings -> xLSTM block stack -> mean pool -> 2 heads.
    # The paper uses ~300-d pretrained word vectors; small sizes keep a 2-core CPU usable.
    embedding_dim: int = 64
    num_blocks: int = 2
    slstm_at: tuple[int, ...] = (1,)  # which blocks are sLSTM; the others are mLSTM
    num_heads: int = 4
    max_len: int = 32  # tokens (FDU-MTL reviews: ~256); the xLSTM context follows it
    max_vocab: int = 20000
    dropout: float = 0.1
    slstm_backend: Literal["auto", "vanilla", "cuda"] = "auto"  # auto: cuda when on a GPU
    # Stage 1: L = L_s + gamma * L_d (paper: grid over [0, 0.1]).
    gamma: float = 0.05
    lr: float = 1.0e-3
    weight_decay: float = 0.01
    # Stage 2: per-domain lambda in [-bound, bound], Adam at lambda_lr; Algorithm 1.
    bound: float = 100.0  # b; the paper compares 100 and 500 (batch-mean gradient)
    lambda_lr: float = 1.0  # lambda lives on a 10^2 scale
    alpha: float = 1.5  # growth on a dev improvement
    beta: float = 2.0  # shrink on a dev drop
    # "lambda": alpha/beta scale lambda itself (the METHODS.md resolution);
    # "lr": they scale each domain's lambda learning rate instead (the other reading).
    scaling: Literal["lambda", "lr"] = "lambda"
    batch_size: int = 32
    epochs: int = 4
    # Stage 1 only: the last stage2_epochs of `epochs` run stage 2 (base frozen, lambda
    # learnt, Algorithm 1) on the base the first epochs - stage2_epochs trained, in the
    # same trial; a comparison arm "stage 1 + stage 2" is then one search, and its seeds
    # re-train the whole pipeline.
    stage2_epochs: int = 0
    # A stage-1 base whose domain head is at chance on dev (gamma = 0, or too little
    # training): stage 2 would follow the gradient of a random classifier. "refuse"
    # fails the trial with that message; "warn" prints it and goes on.
    chance_base: Literal["refuse", "warn"] = "warn"
    seed: int = 42

    def __post_init__(self) -> None:
        if self.stage == 2 and not self.init_from:
            raise ValueError("stage 2 needs init_from: a stage-1 model directory")
        if self.gamma < 0 or self.bound <= 0 or self.lambda_lr <= 0:
            raise ValueError("gamma >= 0, bound > 0 and lambda_lr > 0 are required")
        if self.alpha <= 1 or self.beta <= 1:
            raise ValueError(f"alpha and beta must be > 1, got {self.alpha}, {self.beta}")
        if self.embedding_dim % self.num_heads or self.embedding_dim % 4:
            raise ValueError("embedding_dim must be a multiple of num_heads and of 4")
        if any(not 0 <= i < self.num_blocks for i in self.slstm_at):
            raise ValueError(f"slstm_at {self.slstm_at} must index blocks 0..{self.num_blocks - 1}")
        if self.stage2_epochs and not (self.stage == 1 and 0 < self.stage2_epochs < self.epochs):
            raise ValueError("stage2_epochs needs stage 1 and 0 < stage2_epochs < epochs")
        if self.stage2_epochs and self.gamma == 0:
            raise ValueError(
                "stage2_epochs needs gamma > 0: with gamma = 0 the domain head is untrained "
                "and stage 2 would modulate along the gradient of a random classifier"
            )
        if self.epochs < 1 or self.batch_size < 2 or self.max_len < 2:
            raise ValueError("epochs >= 1, batch_size >= 2 and max_len >= 2 are required")
