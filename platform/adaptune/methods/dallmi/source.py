"""Step 1 of DALLMi, shared: the source-trained checkpoint every arm starts from.

    path = source_checkpoint(cfg, train_ds, data_fingerprint, cache_dir)
    model = build_model(cfg, {"labels": names, "source_checkpoint": path})

The source phase (``cfg.source_epochs`` of multi-label BCE on the labelled source, its
own AdamW at ``cfg.source_lr`` with a linear schedule and ``cfg.warmup_steps``) is
trained once per key and saved as a DALLMi model directory under the method's cache
folder. The key is everything the source phase depends on (data, encoder, source
settings, seed) and nothing of step 2 (mode, loss form, lr, revealed, MixUp): so every
arm of a comparison, at the same seed, starts step 2 from the same weights, and a seed's
re-runs pair up across arms on a shared starting point. Concurrent trials wait on a
file lock while the first one trains it.
"""

from __future__ import annotations

import dataclasses
import fcntl
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from adaptune.data import fingerprint
from adaptune.methods.encoder import load_encoder

from .config import DALLMiConfig
from .model import DALLMiModel, backbone_path
from .sampler import DomainDataset

__all__ = ["SOURCE_KEYS", "source_checkpoint", "source_key", "train_source"]

# The config fields the source phase depends on (with the data and the encoder path).
SOURCE_KEYS = (
    "backbone",
    "max_len",
    "pooling",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "lora_targets",
    "head_dropout",
    "source_epochs",
    "source_lr",
    "weight_decay",
    "warmup_steps",
    "batch_size",
    "seed",
)


def source_key(cfg: DALLMiConfig, data_fingerprint: str) -> str:
    values = {k: getattr(cfg, k) for k in SOURCE_KEYS}
    return fingerprint([data_fingerprint, backbone_path(cfg), repr(sorted(values.items()))])[:24]


def train_source(cfg: DALLMiConfig, ds: DomainDataset, labels: list[str]) -> DALLMiModel:
    """cfg.source_epochs of BCE on the source rows, seeded by cfg.seed alone."""
    from transformers import get_linear_schedule_with_warmup  # ~2 s: only when step 1 trains

    torch.manual_seed(cfg.seed)
    model = DALLMiModel(load_encoder(backbone_path(cfg), cfg), cfg, len(labels), labels)
    ns, bs = ds.n_source, cfg.batch_size
    steps = max(1, ns // bs)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.source_lr, weight_decay=cfg.weight_decay)
    sched = get_linear_schedule_with_warmup(opt, cfg.warmup_steps, steps * cfg.source_epochs)
    rng = np.random.default_rng([cfg.seed, 1])
    model.train()
    for _ in range(cfg.source_epochs):
        order = torch.from_numpy(rng.permutation(ns))
        for step in range(steps):
            rows = order[step * bs : (step + 1) * bs]
            logits = model(ds.ids[rows], ds.mask[rows])
            loss = F.binary_cross_entropy_with_logits(logits, ds.y[rows])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite source loss {loss.item()}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model


def source_checkpoint(
    cfg: DALLMiConfig,
    ds: DomainDataset,
    data_info: dict[str, Any],
    cache_dir: str | None,
) -> str:
    """The saved source-phase model for cfg's key: loaded if present, else trained now."""
    from .predict import save_model

    root = Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="dallmi-source-"))
    path = root / "source" / source_key(cfg, str(data_info["corpus_fingerprint"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one trainer; the others wait, then load
        if not (path / "head.pt").exists():
            labels = list(data_info["labels"])
            model = train_source(cfg, ds, labels)
            tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=".tmp-"))
            source_cfg = dataclasses.replace(cfg, mode="source_only")
            save_model(model, source_cfg, {**data_info, "phase": "source"}, str(tmp))
            tmp.rename(path)
    return str(path)
