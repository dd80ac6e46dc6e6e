"""DALLMi data, optimisers, one training step and evaluation (the parts the platform calls).

Step 1 (the source phase) is trained once per key and shared (source.py): build_data
returns its checkpoint in info["source_checkpoint"], build_model starts from it. The
worker loop is step 2: batches from ``sampler.train_loader`` get the mode's loss (target
batches; source batches with BCE for source_only), under their own optimiser and LR
schedule. Validation is the held-out target split with its complete labels.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from adaptune.data import cached, fingerprint
from adaptune.data.splits import carve, test_seed, test_size, test_source, val_split
from adaptune.job.spec import DataSpec
from adaptune.method import Optimizers, Splits
from adaptune.methods.encoder import tokenize

from .config import DALLMiConfig
from .data import (
    generate_multilabel,
    load_multilabel,
    multi_hot,
    reveal_positives,
)
from .loss import mixup_loss, mixup_target, variational_loss
from .metrics import multilabel_metrics, per_label_metrics
from .model import backbone_path, load_tokenizer, unwrap
from .sampler import POOL, SOURCE, DomainDataset
from .source import source_checkpoint

__all__ = [
    "build_data",
    "build_optimizers",
    "effective_revealed",
    "evaluate",
    "read_splits",
    "train_step",
]


def _corpora(data: DataSpec) -> tuple[Any, Any, list[str], Any]:
    """(source, target, label names, target test): the target's test documents are a
    generated sample with its own seed, a given test file / split, or a seeded share of
    the target carved off, stratified by label set."""
    if data.source == "synthetic-multilabel":
        knobs = {k: v for k, v in data.options.items() if k in ("n_labels", "cooccur", "preset")}
        source, target, names = generate_multilabel(data.n_train, seed=data.seed, **knobs)
        _, test, _ = generate_multilabel(test_size(data), seed=test_seed(data.seed), **knobs)
        return source, target, names, test
    source, target, names = load_multilabel(data)
    given = test_source(data)
    if given is not None:
        return source, target, names, load_multilabel(given)[1]
    strata = ["|".join(sorted(labels)) for labels in target[1]]
    rest, test_rows = carve(strata, data.test_fraction, data.seed)
    pick = lambda rows: ([target[0][i] for i in rows], [target[1][i] for i in rows])  # noqa: E731
    return source, pick(rest), names, pick(test_rows)


def read_splits(data: DataSpec) -> dict[str, dict[str, list[Any]]]:
    """The splits build_data makes, as texts, label lists and domains, for `adaptune
    data`: the labelled source, the target's train and val rows, and the target test."""
    (s_text, s_lab), (t_text, t_lab), _, (x_text, x_lab) = _corpora(data)
    train, val = val_split(len(t_text), data)
    part = lambda texts, labels, dom: {"text": texts, "label": labels, "domain": [dom] * len(texts)}  # noqa: E731
    src, tgt = (str(data.options.get(f"{k}_domain", k)) for k in ("source", "target"))
    return {
        "source": part(s_text, s_lab, src),
        "train": part([t_text[i] for i in train], [t_lab[i] for i in train], tgt),
        "val": part([t_text[i] for i in val], [t_lab[i] for i in val], tgt),
        "test": part(x_text, x_lab, tgt),
    }


def effective_revealed(cfg: DALLMiConfig, data: DataSpec) -> float:
    """The label-availability rate: the config's, else the data option's, else 0.3."""
    if cfg.revealed is not None:
        return cfg.revealed
    return float(data.options.get("revealed", 0.3))


def build_data(cfg: DALLMiConfig, data: DataSpec, cache_dir: str | None = None) -> Splits:
    """Source + target-train rows (target labels partly revealed), target validation rows.

    cfg.revealed, else data.options.revealed (default 0.3), is the fraction of each
    label's target-train positives that stay observed (the paper hides r = 1 - revealed).
    cfg.revealed is applied after the cached tokenisation, so a grid over it tokenises once.
    """
    revealed = effective_revealed(cfg, data)
    key = {"data": data.model_dump(), "tokenizer": backbone_path(cfg), "max_len": cfg.max_len}

    def build() -> dict[str, Any]:
        (s_text, s_lab), (t_text, t_lab), names, (x_text, x_lab) = _corpora(data)
        enc = tokenize(load_tokenizer(cfg), s_text + t_text + x_text, cfg.max_len)
        y = multi_hot(s_lab + t_lab + x_lab, names)
        return {
            "ids": enc["input_ids"],
            "mask": enc["attention_mask"],
            "y": torch.from_numpy(y),
            "n_source": torch.tensor(len(s_text)),
            "n_test": len(x_text),
            "labels": names,
            "fingerprint": fingerprint([s_text, s_lab, t_text, t_lab, x_text, x_lab]),
        }

    t = cached(cache_dir, key, build)
    ns, n_test = int(t["n_source"]), int(t["n_test"])
    n = len(t["y"]) - n_test
    train_rows, val_rows = (torch.from_numpy(ns + i) for i in val_split(n - ns, data))
    full = t["y"][train_rows].numpy()
    # The oracle sees every target label (the headroom); the others a revealed share.
    observed = full.copy() if cfg.mode == "oracle" else reveal_positives(full, revealed, data.seed)
    rows = torch.cat([torch.arange(ns), train_rows])
    y_train = torch.cat([t["y"][:ns], torch.from_numpy(observed)])
    train = DomainDataset(t["ids"][rows], t["mask"][rows], y_train, ns)
    val = TensorDataset(t["ids"][val_rows], t["mask"][val_rows], t["y"][val_rows])
    info = {  # the labels a model saw count as data: revealed share, or every one (oracle)
        "fingerprint": fingerprint(
            [t["fingerprint"], "oracle" if cfg.mode == "oracle" else revealed]
        ),
        "corpus_fingerprint": t["fingerprint"],  # the texts and labels (the source phase's key)
        "labels": list(t["labels"]),
        "revealed": revealed,
        "n_source": ns,
        "n_target_train": len(train_rows),
        "n_val": len(val_rows),
        "n_test": n_test,
        "observed_positives": [int(v) for v in observed.sum(0)],
        "target_positives": [int(v) for v in t["y"][train_rows].sum(0)],
    }
    test_rows = torch.arange(n, n + n_test)
    test = TensorDataset(t["ids"][test_rows], t["mask"][test_rows], t["y"][test_rows])
    if cfg.source_epochs > 0:
        info["source_checkpoint"] = source_checkpoint(cfg, train, info, cache_dir)
    return Splits(train, val, test, info)


def build_optimizers(model: torch.nn.Module, cfg: DALLMiConfig, total_steps: int) -> Optimizers:
    """Step 2's own AdamW and linear schedule (warmup_steps, then down to 0 over the
    target phase's total_steps); step 1 had its own (source.py)."""
    from transformers import get_linear_schedule_with_warmup  # ~2 s of imports: not in the driver

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return Optimizers([opt], [get_linear_schedule_with_warmup(opt, cfg.warmup_steps, total_steps)])


def dallmi_loss(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], cfg: DALLMiConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """Sum over labels of L_var,l + w_mix * L_mix,l on one label-balanced target batch."""
    ids, mask, y, role = batch["ids"], batch["mask"], batch["y"], batch["role"]
    logits = model(ids, mask)
    pool = torch.nonzero(role == POOL).squeeze(1)
    beta = torch.distributions.Beta(cfg.mixup_a, cfg.mixup_a)
    l_var = logits.new_zeros(())
    pairs: list[tuple[int, int, int]] = []  # (label, positive row, unlabelled row)
    for label in range(logits.shape[1]):
        pos = torch.nonzero(role == label).squeeze(1)
        unl = pool[y[pool, label] == 0]  # U_l: pool rows not observed positive for l
        if len(pos) == 0 or len(unl) == 0:
            continue
        l_var = l_var + variational_loss(logits[unl, label], logits[pos, label], cfg.loss_form)
        pick = int(torch.randint(len(unl), (1,)))
        pairs.append((label, int(pos[0]), int(unl[pick])))
    l_mix = logits.new_zeros(())
    if pairs and cfg.w_mix > 0:
        lab, p_rows, u_rows = (torch.tensor(c, device=ids.device) for c in zip(*pairs, strict=True))
        mu = beta.sample((len(pairs),)).to(ids.device)
        mixed = unwrap(model).forward_mixed(
            ids[p_rows], mask[p_rows], ids[u_rows], mask[u_rows], mu
        )
        target = mixup_target(mu, logits[u_rows, lab])
        pred = mixed[torch.arange(len(pairs), device=ids.device), lab]
        # One mixed pair per label: the per-label norm is over that label's single sample.
        for k in range(len(pairs)):
            l_mix = l_mix + mixup_loss(target[k : k + 1], pred[k : k + 1], cfg.loss_form)
    loss = l_var + cfg.w_mix * l_mix
    return loss, {"l_var": l_var.item(), "l_mix": l_mix.item()}


def train_step(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], opt: Optimizers, cfg: DALLMiConfig
) -> dict[str, float]:
    source = bool((batch["role"] == SOURCE).all())
    logs: dict[str, float] = {}
    if source or cfg.mode in ("pu_bce", "oracle"):
        # Source: full labels. pu_bce: observed target labels, unlabelled = negative;
        # oracle: every target label (build_data reveals them all).
        logits = model(batch["ids"], batch["mask"])
        loss = F.binary_cross_entropy_with_logits(logits, batch["y"])
    else:
        loss, logs = dallmi_loss(model, batch, cfg)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite loss {loss.item()} ({logs})")
    opt.zero_grad()
    loss.backward()
    opt.step()
    phase = "source" if source else "target"
    return {
        "loss": loss.item(),
        f"{phase}_loss": loss.item(),
        "target_phase": float(not source),
        **logs,
    }


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: Any, cfg: DALLMiConfig) -> dict[str, float]:
    """Target metrics plus ``val/ap/<label>`` per label (up to MAX_LABEL_METRICS labels;
    labels without validation positives are left out); per-label AP is also kept on the
    model for save_model's eval.json."""
    model.eval()
    ys, scores = [], []
    for ids, mask, y in loader:
        scores.append(torch.sigmoid(model(ids, mask).float()).cpu())
        ys.append(y.cpu())
    model.train()
    out, per_label = multilabel_metrics(
        torch.cat(ys).numpy(), torch.cat(scores).numpy(), cfg.threshold
    )
    inner = unwrap(model)
    inner.last_per_label_ap = per_label
    out.update(per_label_metrics(inner.labels, per_label))
    return out


def evaluate_test(model: torch.nn.Module, loader: Any, cfg: DALLMiConfig) -> dict[str, float]:
    """Method.evaluate_test: evaluate on the test split without replacing the per-label
    validation AP that save_model writes to the model's eval.json."""
    inner = unwrap(model)
    kept = list(inner.last_per_label_ap)
    try:
        return evaluate(model, loader, cfg)
    finally:
        inner.last_per_label_ap = kept
