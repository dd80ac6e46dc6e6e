"""DANN data, optimisers, one training step and evaluation (the parts adaptune calls).

Data: adaptune's generated multi-domain reviews (methods/dama/data.py, the corpus DAMA
trains on): train and val from one sample split by data.val_fraction, test a sample of
its own seed (adaptune.data.splits), so no decision ever reads it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from adaptune.data import cached, fingerprint
from adaptune.data.splits import test_seed, test_size
from adaptune.job.spec import DataSpec
from adaptune.method import Optimizers, Splits
from adaptune.methods.dama.data import domain_names, generate_multidomain
from adaptune.methods.dama.model import build_vocab, encode_texts
from adaptune_dann.config import DANNConfig
from adaptune_dann.model import unwrap

Records = tuple[list[str], list[int], list[str]]


def _generate(data: DataSpec) -> tuple[Records, Records, Records]:
    if data.source != "synthetic-multidomain":
        raise ValueError(f"dann reads data.source synthetic-multidomain, got '{data.source}'")
    options = dict(data.options)
    if "length" in options:  # YAML gives a list
        options["length"] = tuple(options["length"])
    rest = generate_multidomain(data.n_train, seed=data.seed, **options)
    test = generate_multidomain(test_size(data), seed=test_seed(data.seed), **options)
    order = np.random.default_rng(data.seed).permutation(len(rest[0]))
    n_val = max(1, round(len(order) * data.val_fraction))
    train, val = (
        tuple([col[i] for i in idx] for col in rest) for idx in (order[n_val:], order[:n_val])
    )
    return train, val, test  # type: ignore[return-value]


def build_data(cfg: DANNConfig, data: DataSpec, cache_dir: str | None = None) -> Splits:
    """(ids, label, domain) tensors; the vocabulary is the training split's."""
    key = {
        "method": "dann",
        "data": data.model_dump(),
        "max_len": cfg.max_len,
        "max_vocab": cfg.max_vocab,
    }

    def build() -> dict[str, Any]:
        splits = _generate(data)
        vocab = build_vocab(splits[0][0], cfg.max_vocab)
        domains = [d for d in domain_names(data.options.get("domains")) if d in set(splits[0][2])]
        index, dom_index = (
            {w: i for i, w in enumerate(vocab)},
            {d: i for i, d in enumerate(domains)},
        )
        out: dict[str, Any] = {
            "vocab": vocab,
            "domains": domains,
            "fingerprint": fingerprint(list(splits)),
        }
        for name, (texts, labels, doms) in zip(("train", "val", "test"), splits, strict=True):
            out[name] = [
                encode_texts(texts, index, cfg.max_len),
                torch.tensor(labels, dtype=torch.long),
                torch.tensor([dom_index[d] for d in doms], dtype=torch.long),
            ]
        return out

    t = cached(cache_dir, key, build)
    info = {
        "fingerprint": t["fingerprint"],
        "vocab": t["vocab"],
        "domains": t["domains"],
        "n_classes": 2,
        "n_train": len(t["train"][1]),
        "n_val": len(t["val"][1]),
        "n_test": len(t["test"][1]),
    }
    train, val, test = (TensorDataset(*t[s]) for s in ("train", "val", "test"))
    return Splits(train, val, test, info)


def build_optimizers(model: torch.nn.Module, cfg: DANNConfig, total_steps: int) -> Optimizers:
    unwrap(model).total_steps = total_steps  # the schedules' 100 %
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.lr_schedule == "constant":
        return Optimizers([opt])
    # Ganin et al.'s annealing, lr / (1 + 10 p) ** 0.75 (the scheduler steps once a batch)
    anneal = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: (1.0 + 10.0 * min(1.0, step / max(1, total_steps))) ** -0.75
    )
    return Optimizers([opt], [anneal])


def grl_weight(cfg: DANNConfig, progress: float) -> float:
    """lambda_p: Ganin et al.'s 2 / (1 + exp(-10 p)) - 1 ramp (0 -> 1), times grl_lambda."""
    if cfg.grl_schedule == "constant":
        return cfg.grl_lambda
    return cfg.grl_lambda * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)


def train_step(
    model: torch.nn.Module, batch: Any, opt: Optimizers, cfg: DANNConfig
) -> dict[str, Any]:
    ids, y, d = batch
    inner = unwrap(model)
    weight = grl_weight(cfg, inner.progress())
    sent, dom = model(ids, weight)  # through the DDP wrapper when there is one
    l_s, l_d = F.cross_entropy(sent, y), F.cross_entropy(dom, d)
    # The domain head descends l_d; the GRL makes the encoder ascend weight * l_d.
    loss = l_s + l_d
    opt.zero_grad()
    loss.backward()
    opt.step()
    inner.count_step()
    # 0-d tensors: the platform sums them on the device and reads them once an epoch
    return {"loss": loss.detach(), "l_s": l_s.detach(), "l_d": l_d.detach(), "grl_lambda": weight}


def evaluate(model: torch.nn.Module, loader: Any, cfg: DANNConfig) -> dict[str, float]:
    """val/acc (sentiment), val/loss (its cross-entropy) and val/domain_acc: how well the
    domain head still tells domains apart from the features (lower: more invariant)."""
    inner = unwrap(model)
    inner.eval()
    correct = dom_ok = n = 0
    loss_sum = 0.0
    with torch.no_grad():
        for ids, y, d in loader:
            sent, dom = inner(ids)
            loss_sum += float(F.cross_entropy(sent, y, reduction="sum"))
            correct += int((sent.argmax(-1) == y).sum())
            dom_ok += int((dom.argmax(-1) == d).sum())
            n += len(y)
    inner.train()
    n = max(n, 1)
    return {"val/acc": correct / n, "val/loss": loss_sum / n, "val/domain_acc": dom_ok / n}
