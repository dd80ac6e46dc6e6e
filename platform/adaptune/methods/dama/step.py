"""DAMA data, optimisers, one training step and evaluation (the parts the platform calls).

Stage 1 trains the base on L_s + gamma * L_d. Stage 2 trains only lambda on L_s(x'),
and runs Algorithm 1 inside evaluate: evaluate is called once per epoch on the dev
loader, which is exactly what Algorithm 1 needs, so no platform hook is required.
The metrics it reports are those of the kept state lambda*, which is what is saved.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from adaptune.data import cached, fingerprint, load_records
from adaptune.job.spec import DataSpec
from adaptune.method import Optimizers
from adaptune.methods.dama.config import DAMAConfig
from adaptune.methods.dama.data import FDU_DOMAINS, generate_multidomain, load_fdu_mtl
from adaptune.methods.dama.model import (
    PAD,
    DAMAModel,
    build_vocab,
    encode_texts,
    frozen_mode,
    unwrap,
)
from adaptune.methods.dama.modulation import clamp_lambda, modulate_model, scale_step
from adaptune.methods.dama.predict import read_base_meta

Records = tuple[list[str], list[int], list[str]]


def _records(data: DataSpec) -> tuple[Records, Records | None]:
    """(train, dev) records; dev None means: split it off train by data.val_fraction."""
    if data.source == "synthetic-multidomain":
        return generate_multidomain(data.n_train, seed=data.seed, **data.options), None
    if data.source == "fdu-mtl":
        if not data.path:
            raise ValueError("data.path (the FDU-MTL folder) is required for source 'fdu-mtl'")
        domains = data.options.get("domains")
        return load_fdu_mtl(data.path, "train", domains), load_fdu_mtl(data.path, "dev", domains)
    rec = load_records(data, needed=("text", "label", "domain"))
    texts = [str(t).lower() for t in rec["text"]]
    return (texts, [int(v) for v in rec["label"]], [str(d) for d in rec["domain"]]), None


def _split(records: Records, data: DataSpec) -> tuple[Records, Records]:
    n = len(records[0])
    order = np.random.default_rng(data.seed).permutation(n)
    n_val = max(1, round(n * data.val_fraction))
    pick = [order[n_val:], order[:n_val]]
    train, val = (tuple([col[i] for i in idx] for col in records) for idx in pick)
    return train, val  # type: ignore[return-value]


def build_data(
    cfg: DAMAConfig, data: DataSpec, cache_dir: str | None = None
) -> tuple[TensorDataset, TensorDataset, dict[str, Any]]:
    """(ids, label, domain) tensors; stage 2 reuses its base's vocabulary and domains."""
    key = {"data": data.model_dump(), "max_len": cfg.max_len, "max_vocab": cfg.max_vocab}
    if cfg.stage == 2:
        key["base"] = str(cfg.init_from)

    def build() -> dict[str, Any]:
        train, dev = _records(data)
        train, dev = _split(train, data) if dev is None else (train, dev)
        if cfg.stage == 2:
            vocab, domains = read_base_meta(str(cfg.init_from))
        else:
            vocab = build_vocab(train[0], cfg.max_vocab)
            seen = set(train[2])
            domains = [d for d in FDU_DOMAINS if d in seen] + sorted(seen - set(FDU_DOMAINS))
        index, dom_index = (
            {w: i for i, w in enumerate(vocab)},
            {d: i for i, d in enumerate(domains)},
        )
        unknown = (set(train[2]) | set(dev[2])) - set(domains)
        if unknown:
            raise ValueError(f"domains {sorted(unknown)} are not known to the base model")
        out: dict[str, Any] = {"vocab": vocab, "domains": domains}
        for name, (texts, labels, doms) in (("train", train), ("val", dev)):
            out[name] = [
                encode_texts(texts, index, cfg.max_len),
                torch.tensor(labels, dtype=torch.long),
                torch.tensor([dom_index[d] for d in doms], dtype=torch.long),
            ]
        out["fingerprint"] = fingerprint([train, dev])
        return out

    t = cached(cache_dir, key, build)
    info = {
        "fingerprint": t["fingerprint"],
        "vocab": t["vocab"],
        "domains": t["domains"],
        "n_classes": int(max(t["train"][1].max(), t["val"][1].max())) + 1,
        "n_train": len(t["train"][1]),
        "n_val": len(t["val"][1]),
    }
    return TensorDataset(*t["train"]), TensorDataset(*t["val"]), info


def build_optimizers(model: torch.nn.Module, cfg: DAMAConfig, total_steps: int) -> Optimizers:
    inner = unwrap(model)
    if cfg.stage == 1:
        params = inner.base_parameters()
        return Optimizers([torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)])
    return Optimizers([torch.optim.Adam([inner.lam], lr=cfg.lambda_lr)])


def _check(loss: torch.Tensor) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite loss {loss.item()}")


def train_step(
    model: torch.nn.Module, batch: Any, opt: Optimizers, cfg: DAMAConfig
) -> dict[str, float]:
    ids, y, d = batch
    if cfg.stage == 1:
        dom_logits, sent_logits = model(ids)
        l_s, l_d = F.cross_entropy(sent_logits, y), F.cross_entropy(dom_logits, d)
        loss = l_s + cfg.gamma * l_d
        _check(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "l_s": l_s.item(), "l_d": l_d.item()}
    inner = unwrap(model)
    frozen_mode(inner)  # the base is frozen: no dropout while lambda learns
    mask = ids != PAD
    x_mod = modulate_model(inner, inner.embed(ids), mask, d, inner.lam)
    loss = F.cross_entropy(inner.sentiment_logits(x_mod, mask), y)
    _check(loss)
    opt.zero_grad()
    loss.backward()
    _sync_grad(inner.lam)
    before = inner.lam.detach().clone()
    opt.step()
    clamp_lambda(inner, before, cfg.bound)
    return {
        "loss": loss.item(),
        "l_s": loss.item(),
        "lambda/abs_mean": inner.lam.abs().mean().item(),
    }


def _sync_grad(p: torch.Tensor) -> None:
    """Stage 2 calls the inner model (not DDP's forward), so average lambda's grad here."""
    if p.grad is not None and dist.is_available() and dist.is_initialized():
        dist.all_reduce(p.grad)
        p.grad /= dist.get_world_size()


def _pass(
    model: DAMAModel, loader: Any, lam: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Per-sample (correct, domain, domain-correct) and mean L_s, modulated when lam given."""
    correct, doms, dom_ok, loss_sum, n = [], [], [], 0.0, 0
    for ids, y, d in loader:
        mask = ids != PAD
        x = model.embed(ids)
        if lam is not None:
            x = modulate_model(model, x, mask, d, lam)
        with torch.no_grad():
            dom_logits, sent_logits = model.heads(x, mask)
            loss_sum += F.cross_entropy(sent_logits, y, reduction="sum").item()
        n += len(y)
        correct.append((sent_logits.argmax(-1) == y).cpu())
        doms.append(d.cpu())
        dom_ok.append((dom_logits.argmax(-1) == d).cpu())
    return torch.cat(correct), torch.cat(doms), torch.cat(dom_ok), loss_sum / max(n, 1)


def _per_domain(correct: torch.Tensor, doms: torch.Tensor, m: int) -> tuple[torch.Tensor, ...]:
    counts = torch.bincount(doms, minlength=m).float()
    hits = torch.bincount(doms, weights=correct.float(), minlength=m)
    return hits / counts.clamp_min(1), counts


def evaluate(model: torch.nn.Module, loader: Any, cfg: DAMAConfig) -> dict[str, float]:
    inner = unwrap(model)
    frozen_mode(inner)  # not eval(): stage 2 back-propagates to the input here too
    m = inner.arch.n_domains
    lam = inner.lam.detach() if cfg.stage == 2 else None
    correct, doms, dom_ok, loss = _pass(inner, loader, lam)
    acc, counts = _per_domain(correct, doms, m)
    last = float(correct.float().mean())
    if cfg.stage == 2:
        dev = inner.lam.device
        present = (counts > 0).to(dev)
        if bool((inner.best_acc[present] < 0).any()):  # first epoch: accuracy at lambda = 0
            inner.best_acc.copy_(_per_domain(*_pass(inner, loader, None)[:2], m)[0])
        scale_step(inner, acc.to(dev), present, cfg.alpha, cfg.beta, cfg.bound, cfg.scaling)
        acc = inner.best_acc.detach().cpu()  # the kept state lambda*: what is saved
    inner.train()
    out = {
        "val/acc": float((acc * counts).sum() / counts.sum()),
        "val/acc_last": last,
        "val/loss": loss,
        "val/domain_acc": float(dom_ok.float().mean()),
    }
    out.update(
        {f"val/acc/{name}": float(acc[i]) for i, name in enumerate(inner.domains) if counts[i] > 0}
    )
    return out
