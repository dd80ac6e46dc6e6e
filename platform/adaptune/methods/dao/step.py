"""DAO data, optimisers, one training step and evaluation (the parts the platform calls)."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from adaptune.data import cached, fingerprint, load_records
from adaptune.data.splits import carve, test_seed, test_size, test_source, val_split
from adaptune.job.spec import DataSpec
from adaptune.job.textformats import read_sentiment
from adaptune.method import Optimizers, Splits
from adaptune.methods.encoder import tokenize

from .config import DAOConfig
from .data import generate_finsent
from .loss import NUM_CLASSES, dao_losses, score_to_class
from .model import backbone_path, load_tokenizer, unwrap

Records = tuple[list[str], list[float]]


def _load(data: DataSpec) -> Records:
    if data.source in ("fiqa", "phrasebank"):  # their own layouts: job/textformats.py
        texts, scores = read_sentiment(data.source, str(data.path), data.options)
        return texts[: data.n_train], scores[: data.n_train]
    rec = load_records(data, needed=("text", "score"))
    return [str(t) for t in rec["text"]], [float(s) for s in rec["score"]]


def _records(data: DataSpec) -> tuple[Records, Records]:
    """(train + val records, test records): a generated test sample with its own seed, a
    given test file / split, or a seeded share carved off, stratified by class."""
    if data.source == "synthetic-finsent":
        return (
            generate_finsent(data.n_train, seed=data.seed, **data.options),
            generate_finsent(test_size(data), seed=test_seed(data.seed), **data.options),
        )
    texts, scores = _load(data)
    given = test_source(data)
    if given is not None:
        return (texts, scores), _load(given)
    classes = score_to_class(torch.tensor(scores)).tolist()
    rest, test = carve(classes, data.test_fraction, data.seed)
    pick = lambda rows: ([texts[i] for i in rows], [scores[i] for i in rows])  # noqa: E731
    return pick(rest), pick(test)


def read_splits(data: DataSpec) -> dict[str, dict[str, list[Any]]]:
    """The splits build_data makes, as texts and classes (Eq. 4), for `adaptune data`."""
    (texts, scores), (t_texts, t_scores) = _records(data)
    classes = score_to_class(torch.tensor(scores + t_scores, dtype=torch.float32)).tolist()
    n = len(texts)
    out = {}
    for name, rows in zip(("train", "val"), val_split(n, data), strict=True):
        out[name] = {"text": [texts[i] for i in rows], "label": [classes[i] for i in rows]}
    out["test"] = {"text": t_texts, "label": classes[n:]}
    return out


def build_data(cfg: DAOConfig, data: DataSpec, cache_dir: str | None = None) -> Splits:
    """Tokenised train/val/test tensors; train and val split 9:1 (data.val_fraction) by
    data.seed, test drawn or carved apart (data/splits.py)."""
    key = {"data": data.model_dump(), "tokenizer": backbone_path(cfg), "max_len": cfg.max_len}

    def build() -> dict[str, Any]:
        (texts, scores), (t_texts, t_scores) = _records(data)
        enc = tokenize(load_tokenizer(cfg), texts + t_texts, cfg.max_len)
        return {
            "input_ids": enc["input_ids"],
            "attention_mask": enc["attention_mask"],
            "score": torch.tensor(scores + t_scores, dtype=torch.float32),
            "n_test": len(t_scores),
            "fingerprint": fingerprint([texts, scores, t_texts, t_scores]),
        }

    t = cached(cache_dir, key, build)
    n_test = int(t["n_test"])
    n = len(t["score"]) - n_test
    train_i, val_i = (torch.from_numpy(i) for i in val_split(n, data))
    parts = [train_i, val_i, torch.arange(n, n + n_test)]
    train, val, test = (
        TensorDataset(t["input_ids"][i], t["attention_mask"][i], t["score"][i]) for i in parts
    )
    counts = torch.bincount(score_to_class(t["score"][parts[0]]), minlength=NUM_CLASSES)
    info = {
        "fingerprint": t["fingerprint"],
        "n_train": len(train_i),
        "n_val": len(val_i),
        "n_test": n_test,
        "class_counts": counts.tolist(),
    }
    return Splits(train, val, test, info)


def build_optimizers(model: torch.nn.Module, cfg: DAOConfig, total_steps: int) -> Optimizers:
    from transformers import get_cosine_schedule_with_warmup  # ~2 s of imports: not in the driver

    dao = unwrap(model)
    backbone = [
        p
        for name, p in dao.named_parameters()
        if p.requires_grad and not name.startswith("weighting.")
    ]
    main = torch.optim.AdamW(backbone, lr=cfg.lr, eps=cfg.adam_eps, weight_decay=cfg.weight_decay)
    out = Optimizers([main], [get_cosine_schedule_with_warmup(main, cfg.warmup_steps, total_steps)])
    if dao.weighting is not None:
        own = [p for p in dao.weighting.parameters() if p.requires_grad]
        out.optimizers.append(torch.optim.Adam(own, lr=cfg.dao_lr))
    return out


def _autocast(device: torch.device, cfg: DAOConfig) -> contextlib.AbstractContextManager[Any]:
    if device.type == "cuda" and cfg.bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(
    model: torch.nn.Module, batch: Any, opt: Optimizers, cfg: DAOConfig
) -> dict[str, torch.Tensor]:
    """One optimiser step. The logs stay on the device (no host sync); the worker checks
    the loss is finite every few steps."""
    ids, mask, y = batch
    z = score_to_class(y)
    dao = unwrap(model)
    with _autocast(ids.device, cfg):
        h, y_hat, logits = model(ids, mask)
    l_r = F.mse_loss(y_hat.float(), y)
    ce = F.cross_entropy(logits.float(), z, reduction="none")
    logs: dict[str, torch.Tensor] = {}
    if dao.weighting is None:
        loss = (1.0 - cfg.w_c) * l_r + cfg.w_c * ce.mean()
    else:
        wrt = h if cfg.dao_grad_wrt == "H" else dao.shared_parameters()
        loss, logs = dao_losses(dao.weighting, l_r, ce, z, wrt)
    opt.zero_grad()
    loss.backward()
    opt.step()
    dao.steps += 1
    if logs and (dao.steps == 1 or dao.steps % cfg.log_every == 0):
        # A host read every log_every steps (not every step): the w_c / alpha / beta curve.
        dao.trajectory.append({"step": dao.steps, **{k: float(v) for k, v in logs.items()}})
    out = {"loss": loss.detach(), "l_r": l_r.detach(), "l_c": ce.detach().mean()}
    out.update({f"dao/{k}": v.detach() for k, v in logs.items()})
    return out


SERIES = ("w_c", "alpha", "beta")  # the trajectory's values logged as per-step series


def step_series(model: torch.nn.Module) -> dict[str, list[tuple[int, float]]]:
    """The trajectory rows recorded since the last call, as "dao/<name>" series (w_c,
    alpha, beta at their optimiser steps): the worker sends them with each epoch."""
    dao = unwrap(model)
    rows, dao.sent = dao.trajectory[dao.sent :], len(dao.trajectory)
    return {
        f"dao/{k}": [(int(r["step"]), r[k]) for r in rows if k in r]
        for k in SERIES
        if any(k in r for r in rows)
    }


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: Any, cfg: DAOConfig) -> dict[str, float]:
    from sklearn import metrics as skm

    model.eval()
    ys, preds, zs, classes = [], [], [], []
    for ids, mask, y in loader:
        with _autocast(ids.device, cfg):
            _, y_hat, logits = model(ids, mask)
        ys.append(y.cpu())
        preds.append(y_hat.float().cpu())
        zs.append(score_to_class(y).cpu())
        classes.append(logits.argmax(-1).cpu())
    model.train()
    y_true, y_pred = torch.cat(ys).numpy(), torch.cat(preds).numpy()
    z_true, z_pred = torch.cat(zs).numpy(), torch.cat(classes).numpy()
    mse = float(skm.mean_squared_error(y_true, y_pred))
    return {
        "val/mse": mse,
        "val/mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "val/rmse": math.sqrt(mse),
        "val/r2": float(skm.r2_score(y_true, y_pred)),
        "val/acc": float(skm.accuracy_score(z_true, z_pred)),
        "val/precision": float(
            skm.precision_score(z_true, z_pred, average="weighted", zero_division=0)
        ),
        "val/f1": float(skm.f1_score(z_true, z_pred, average="weighted", zero_division=0)),
    }
