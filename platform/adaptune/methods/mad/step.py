"""MAD data, single-domain batches, optimisers, one training step and evaluation.

    train, val, test, info = build_data(MADConfig(), DataSpec(source="digits-decathlon"), cache)
    loader = train_loader(train, cfg, torch.Generator(), rank=0, world_size=1)

Every batch holds one domain, so a step moves only that domain's adapters, BatchNorm
and head (their gradients elsewhere stay None and SGD skips them): domains train
independently, as if each had its own run on the shared frozen base.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from adaptune.data import cached, fingerprint
from adaptune.data.splits import carve, val_split
from adaptune.job.spec import DataSpec
from adaptune.method import Optimizers, Splits

from .config import DOMAINS, SOURCE, MADConfig
from .data import broad_source, digits_decathlon
from .model import pretrain_base, read_checkpoint, unwrap

NUM_CLASSES = 10


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] -> the network's input range [-1, 1]."""
    return (x - 0.5) / 0.5


def _split(labels: torch.Tensor, data: DataSpec) -> tuple[torch.Tensor, ...]:
    """(train, val, test) indices of the digit images, shared by every domain: val and
    test digits are never trained on, in any domain. Test is a seeded share stratified
    by class (the digits are a fixed set: nothing to draw a fresh sample from)."""
    rest, test = carve(labels.tolist(), data.test_fraction, data.seed)
    train, val = val_split(len(rest), data)
    return tuple(torch.from_numpy(i) for i in (rest[train], rest[val], test))


def _few_shot(
    train_i: torch.Tensor, labels: torch.Tensor, per_class: int, seed: int
) -> torch.Tensor:
    """`per_class` training digits of each class (seeded): a small target domain."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in torch.unique(labels[train_i]).tolist():
        idx = train_i[labels[train_i] == c].numpy()
        keep.append(rng.permutation(idx)[:per_class])
    return torch.from_numpy(np.sort(np.concatenate(keep)))


def build_data(cfg: MADConfig, data: DataSpec, cache_dir: str | None = None) -> Splits:
    """(image, label, domain) tensors of every domain, and the source-pretrained base.

    Options: size (pixels), pretrain "source" (the source domain's train digits) or
    "broad" (those and three randomly varied views of them, data.broad_source), and
    per_class (each target domain trains on that many digits per class; default all).
    The source domain is never trained on: it uses the base unchanged.
    """
    if data.source in ("image-folder", "decathlon"):  # images.IMAGE_SOURCES, on disk
        from .imagedata import build_image_data

        return build_image_data(cfg, data, cache_dir)
    if data.source != "digits-decathlon":
        raise ValueError(f"mad reads source 'digits-decathlon', got '{data.source}'")
    size = int(data.options.get("size", 32))
    pretrain = str(data.options.get("pretrain", "source"))
    per_class = data.options.get("per_class")
    if pretrain not in ("source", "broad"):
        raise ValueError(f"data.options.pretrain must be source or broad, got '{pretrain}'")
    x, y, d = digits_decathlon(size, data.n_train, data.seed)
    x = normalise(x)
    n = len(x) // len(DOMAINS)
    train_i, val_i, test_i = _split(y[:n], data)
    src = DOMAINS.index(SOURCE) * n
    recipe = [cfg.width, cfg.pretrain_epochs, cfg.pretrain_lr, cfg.batch_size, cfg.seed, pretrain]

    def pretrain_set() -> dict[str, torch.Tensor]:
        xs, ys = x[src + train_i], y[src + train_i]
        if pretrain == "broad":
            xs = normalise(broad_source(xs * 0.5 + 0.5, data.seed))
            ys = ys.repeat(len(xs) // len(ys))
        return pretrain_base(xs, ys, cfg, NUM_CLASSES)

    # the expensive part: pretraining the shared base, once per data and recipe
    base = (
        read_checkpoint(cfg.checkpoint)
        if cfg.checkpoint
        else cached(cache_dir, {"data": data.model_dump(), "base": recipe}, pretrain_set)
    )
    targets = [k for k, name in enumerate(DOMAINS) if name != SOURCE]
    train_rows = [
        k * n + (_few_shot(train_i, y[:n], int(per_class), data.seed + k) if per_class else train_i)
        for k in targets
    ]
    rows = [torch.cat(train_rows)] + [
        torch.cat([k * n + idx for k in range(len(DOMAINS))]) for idx in (val_i, test_i)
    ]
    train, val, test = (TensorDataset(x[r], y[r], d[r]) for r in rows)
    info = {
        "fingerprint": fingerprint([data.model_dump(), size, x.sum().item(), y.tolist()]),
        "domains": list(DOMAINS),
        "num_classes": NUM_CLASSES,
        "size": size,
        "n_train": len(rows[0]),
        "n_val": len(rows[1]),
        "n_test": len(rows[2]),
        "base_state": base,
    }
    return Splits(train, val, test, info)


def domain_batches(
    domains: torch.Tensor, batch_size: int, generator: torch.Generator
) -> list[list[int]]:
    """Shuffled single-domain batches (drop_last per domain), in shuffled order."""
    batches = []
    for d in torch.unique(domains).tolist():
        idx = torch.nonzero(domains == d).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        batches += [
            idx[i : i + batch_size].tolist()
            for i in range(0, len(idx) - batch_size + 1, batch_size)
        ]
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in order]


class DomainBatchSampler:
    """New single-domain batches every epoch; rank r takes every world-th batch."""

    def __init__(
        self,
        domains: torch.Tensor,
        batch_size: int,
        generator: torch.Generator,
        rank: int,
        world: int,
    ):
        self.domains, self.batch_size, self.generator = domains, batch_size, generator
        self.rank, self.world = rank, world
        self.n = len(domain_batches(domains, batch_size, torch.Generator())) // world

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Any:
        batches = domain_batches(self.domains, self.batch_size, self.generator)
        return iter(batches[self.rank :: self.world][: self.n])


def train_loader(
    train: Any, cfg: MADConfig, generator: torch.Generator, rank: int, world_size: int
) -> DataLoader:
    """Single-domain batches of the digits' tensors, or of an image set (imagedata.py),
    decoded in its loader_options' worker processes."""
    domains = train.tensors[2] if isinstance(train, TensorDataset) else train.domains
    sampler = DomainBatchSampler(domains, cfg.batch_size, generator, rank, world_size)
    return DataLoader(train, batch_sampler=sampler, **getattr(train, "loader_options", {}))


def build_optimizers(model: torch.nn.Module, cfg: MADConfig, total_steps: int) -> Optimizers:
    """SGD with momentum; lr / 10 at 2/3 and 5/6 of training (paper: epochs 80, 100 of 120).

    Adapters are stored as offsets from 1, so weight decay pulls alpha toward 1.
    """
    params = [p for p in unwrap(model).parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    milestones = [int(total_steps * 2 / 3), int(total_steps * 5 / 6)]
    return Optimizers([opt], [torch.optim.lr_scheduler.MultiStepLR(opt, milestones, 0.1)])


def train_step(
    model: torch.nn.Module, batch: Any, opt: Optimizers, cfg: MADConfig
) -> dict[str, float]:
    x, y, d = batch
    domain = int(d[0])
    if not bool((d == domain).all()):
        raise ValueError("MAD batches must hold one domain (use Method.train_loader)")
    loss = F.cross_entropy(model(x, domain), y)
    name = unwrap(model).names[domain]
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite loss {loss.item()} on domain {name}")
    opt.zero_grad()
    loss.backward()
    opt.step()
    return {"loss": loss.item(), f"loss/{name}": loss.item()}


def decathlon_score(errors: list[float], baseline_errors: tuple[float, ...]) -> float:
    """S = sum_d 1000 (E_max_d)^-2 max(0, E_max_d - E_d)^2, E_max_d = 2 x baseline error."""
    score = 0.0
    for e, base in zip(errors, baseline_errors, strict=True):
        e_max = 2.0 * base
        if e_max > 0:
            score += 1000.0 * e_max**-2 * max(0.0, e_max - e) ** 2
    return score


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: Any, cfg: MADConfig) -> dict[str, float]:
    """Per-domain and mean accuracy, the Decathlon score, parameters added per domain."""
    model.eval()
    names = unwrap(model).names
    correct, total = torch.zeros(len(names)), torch.zeros(len(names))
    for x, y, d in loader:
        for domain in torch.unique(d).tolist():  # val batches may mix domains
            m = d == domain
            pred = model(x[m], domain).argmax(-1)
            correct[domain] += (pred == y[m]).sum().item()
            total[domain] += m.sum().item()
    model.train()
    acc = (correct / total.clamp_min(1)).tolist()
    out = {f"val/acc/{name}": a for name, a in zip(names, acc, strict=True)}
    out["val/acc"] = float(np.mean(acc))
    given = len(cfg.baseline_errors) == len(names)
    out["val/score"] = (
        decathlon_score([1 - a for a in acc], cfg.baseline_errors) if given else math.nan
    )
    params = unwrap(model).params_per_domain()
    out["val/params_adapter"] = float(params["adapter"])
    out["val/params_domain"] = float(sum(params.values()))
    return out
