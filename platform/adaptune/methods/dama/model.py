"""BS_mtl, the DAMA base: word embeddings -> xLSTM block stack -> pooled vector -> 2 heads.

    model = DAMAModel(Arch(vocab_size=5000, n_domains=16))
    dom_logits, sent_logits = model(ids)             # ids: (B, max_len), 0 = padding
    x = model.embed(ids); s = model.sentiment_logits(x, ids != 0)   # on embeddings

The modulation acts on the embeddings x, so the heads are also callable on x directly.
`lam` (per-domain lambda), `lam_star`, `best_acc` and `lr_scale` hold stage 2's state;
stage 1 leaves them at their initial values.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

PAD, UNK = 0, 1


@dataclass(frozen=True)
class Arch:
    vocab_size: int
    n_domains: int
    n_classes: int = 2
    embedding_dim: int = 64
    num_blocks: int = 2
    slstm_at: tuple[int, ...] = (1,)
    num_heads: int = 4
    max_len: int = 32
    dropout: float = 0.1

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Arch:
        raw = json.loads(path.read_text())
        return cls(**{**raw, "slstm_at": tuple(raw["slstm_at"])})


def xlstm_stack(arch: Arch, backend: str) -> nn.Module:
    """The `xlstm` package's block stack; mLSTM blocks use its native torch kernel."""
    from xlstm import (
        FeedForwardConfig,
        mLSTMBlockConfig,
        mLSTMLayerConfig,
        sLSTMBlockConfig,
        sLSTMLayerConfig,
        xLSTMBlockStack,
        xLSTMBlockStackConfig,
    )

    cfg = xLSTMBlockStackConfig(
        mlstm_block=mLSTMBlockConfig(
            mlstm=mLSTMLayerConfig(
                conv1d_kernel_size=4, qkv_proj_blocksize=4, num_heads=arch.num_heads
            )
        ),
        slstm_block=sLSTMBlockConfig(
            slstm=sLSTMLayerConfig(
                backend=backend,
                num_heads=arch.num_heads,
                conv1d_kernel_size=4,
                bias_init="powerlaw_blockdependent",
            ),
            feedforward=FeedForwardConfig(proj_factor=1.3, act_fn="gelu"),
        ),
        context_length=arch.max_len,
        num_blocks=arch.num_blocks,
        embedding_dim=arch.embedding_dim,
        slstm_at=list(arch.slstm_at),
    )
    return xLSTMBlockStack(cfg)


def resolve_backend(choice: str) -> str:
    """sLSTM backend: "vanilla" (pure torch) on CPU, the CUDA kernel when a GPU is used."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "vanilla"
    return choice


def frozen_mode(model: nn.Module) -> None:
    """Train mode with every dropout off: deterministic like eval(), yet gradients can flow
    through the sLSTM CUDA kernel (its backward refuses eval mode), which stage 2 needs for
    the input gradient of the domain loss."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.eval()


class DAMAModel(nn.Module):
    lam_star: torch.Tensor
    best_acc: torch.Tensor
    lr_scale: torch.Tensor
    grad_ref: torch.Tensor
    epochs_done: torch.Tensor

    def __init__(self, arch: Arch, backend: str = "vanilla"):
        super().__init__()
        self.arch = arch
        self.embed = nn.Embedding(arch.vocab_size, arch.embedding_dim, padding_idx=PAD)
        self.encoder = xlstm_stack(arch, backend)
        self.drop = nn.Dropout(arch.dropout)
        self.domain_head = nn.Linear(arch.embedding_dim, arch.n_domains)
        self.sentiment_head = nn.Linear(arch.embedding_dim, arch.n_classes)
        m = arch.n_domains
        self.lam = nn.Parameter(torch.zeros(m), requires_grad=False)  # trained in stage 2
        self.register_buffer("lam_star", torch.zeros(m))  # best dev lambda (Algorithm 1)
        self.register_buffer("best_acc", torch.full((m,), -1.0))  # -1: not measured yet
        self.register_buffer("lr_scale", torch.ones(m))  # per-domain lambda lr ("lr" reading)
        # The gradient g is a batch mean over training batches of this size; evaluation and
        # serving divide the per-sample sum by it too, so g does not depend on their batching.
        self.register_buffer("grad_ref", torch.tensor(1.0))
        # Epochs evaluated so far: where a stage-1 trial with stage2_epochs switches to
        # stage 2 (a buffer, so a trial restarted from its checkpoint knows its phase).
        self.register_buffer("epochs_done", torch.tensor(0))
        self.domains: list[str] = []

    def pooled(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked mean of the stack's outputs (the stack is causal: padding sits at the end)."""
        h = self.encoder(x)
        w = mask.unsqueeze(-1).to(h.dtype)
        return self.drop((h * w).sum(1) / w.sum(1).clamp_min(1.0))

    def heads(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.pooled(x, mask)
        return self.domain_head(p), self.sentiment_head(p)

    def domain_logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.domain_head(self.pooled(x, mask))

    def sentiment_logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.sentiment_head(self.pooled(x, mask))

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.embed(ids), ids != PAD)

    def base_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if n != "lam"]


def unwrap(model: nn.Module) -> DAMAModel:
    inner: Any = getattr(model, "module", model)  # DDP wraps the model when world > 1
    assert isinstance(inner, DAMAModel)
    return inner


def encode_texts(texts: list[str], vocab: dict[str, int], max_len: int) -> torch.Tensor:
    """Whitespace tokens -> ids, truncated and right-padded to max_len (unknown -> UNK)."""
    out = torch.full((len(texts), max_len), PAD, dtype=torch.long)
    for i, text in enumerate(texts):
        ids = [vocab.get(w, UNK) for w in text.lower().split()[:max_len]]
        if ids:
            out[i, : len(ids)] = torch.tensor(ids)
    return out


def build_vocab(texts: list[str], max_vocab: int) -> list[str]:
    """Most frequent words first (ties alphabetical, so it is deterministic); 0/1 reserved."""
    counts: dict[str, int] = {}
    for text in texts:
        for w in text.lower().split():
            counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))[: max(0, max_vocab - 2)]
    return ["<pad>", "<unk>", *words]
