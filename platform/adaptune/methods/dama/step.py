"""DAMA data, optimisers, one training step and evaluation (the parts the platform calls).

Stage 1 trains the base on L_s + gamma * L_d. Stage 2 trains only lambda on L_s(x'),
and runs Algorithm 1 inside evaluate: evaluate is called once per epoch on the dev
loader, which is exactly what Algorithm 1 needs, so no platform hook is required.
The metrics it reports are those of the kept state lambda*, which is what is saved.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from adaptune.data import cached, fingerprint, load_records
from adaptune.data.splits import carve, test_seed, test_size, test_source, val_split
from adaptune.job.spec import DataSpec
from adaptune.method import Optimizers, Splits

from .config import DAMAConfig
from .data import (
    FDU_DOMAINS,
    domain_names,
    generate_multidomain,
    load_fdu_mtl,
)
from .hard import generate_hard
from .model import (
    PAD,
    DAMAModel,
    build_vocab,
    encode_texts,
    frozen_mode,
    unwrap,
)
from .modulation import clamp_lambda, modulate_model, scale_step
from .predict import read_base_meta

Records = tuple[list[str], list[int], list[str]]


def _load(data: DataSpec) -> Records:
    rec = load_records(data, needed=("text", "label", "domain"))
    texts = [str(t).lower() for t in rec["text"]]
    return texts, [int(v) for v in rec["label"]], [str(d) for d in rec["domain"]]


def _records(data: DataSpec) -> tuple[Records, Records | None, Records]:
    """(train, dev, test) records; dev None means: split it off train by data.val_fraction.
    Test: a generated sample with its own seed, FDU-MTL's own test files, a given test
    file / split, or a seeded share carved off, stratified by domain and label."""
    if data.source == "synthetic-multidomain":
        return _generated(data)
    if data.source == "fdu-mtl":
        if not data.path:
            raise ValueError("data.path (the FDU-MTL folder) is required for source 'fdu-mtl'")
        domains = data.options.get("domains")
        dev = int(data.options.get("dev_per_domain", 200))  # the standard: last 200 of train
        return (
            load_fdu_mtl(data.path, "train", domains, dev),
            load_fdu_mtl(data.path, "dev", domains, dev),
            load_fdu_mtl(data.path, "test", domains),
        )
    records = _load(data)
    given = test_source(data)
    if given is not None:
        return records, None, _load(given)
    strata = list(zip(records[2], records[1], strict=True))  # domain x label
    rest_rows, test_rows = carve(strata, data.test_fraction, data.seed)
    pick = lambda rows: tuple([col[i] for i in rows] for col in records)  # noqa: E731
    return pick(rest_rows), None, pick(test_rows)  # type: ignore[return-value]


def _generated(data: DataSpec) -> tuple[Records, Records | None, Records]:
    """preset easy (default): the original corpus, dev split off train. preset hard: the
    paper's regime (methods/dama/hard.py), dev and test drawn with their own seeds and
    without the spurious brand words, `dev_per_domain` / `test_per_domain` each."""
    options = dict(data.options)
    preset = options.pop("preset", "easy")
    if preset == "easy":
        train = generate_multidomain(data.n_train, seed=data.seed, **options)
        test = generate_multidomain(test_size(data), seed=test_seed(data.seed), **options)
        return train, None, test
    if preset != "hard":
        raise ValueError(f"data.options.preset must be easy or hard, got '{preset}'")
    n_dev, n_test = (
        int(options.pop("dev_per_domain", 200)),
        int(options.pop("test_per_domain", 400)),
    )
    options["domains"] = domain_names(options.get("domains"))
    train = generate_hard(data.n_train, seed=data.seed, **options)
    options["spurious"] = False
    dev = generate_hard(0, seed=test_seed(data.seed) + 1, per_domain=n_dev, **options)
    test = generate_hard(0, seed=test_seed(data.seed), per_domain=n_test, **options)
    return train, dev, test


def _split(records: Records, data: DataSpec) -> tuple[Records, Records]:
    pick = val_split(len(records[0]), data)
    train, val = (tuple([col[i] for i in idx] for col in records) for idx in pick)
    return train, val  # type: ignore[return-value]


def read_splits(data: DataSpec) -> dict[str, dict[str, list[Any]]]:
    """The splits build_data makes (train, dev as val, test), as texts, labels and
    domains, for `adaptune data`."""
    train, dev, test = _records(data)
    train, dev = _split(train, data) if dev is None else (train, dev)
    parts: list[tuple[str, Records]] = [("train", train), ("val", dev), ("test", test)]
    return {
        name: {"text": list(texts), "label": list(labels), "domain": list(domains)}
        for name, (texts, labels, domains) in parts
    }


def build_data(cfg: DAMAConfig, data: DataSpec, cache_dir: str | None = None) -> Splits:
    """(ids, label, domain) tensors; stage 2 reuses its base's vocabulary and domains."""
    key = {"data": data.model_dump(), "max_len": cfg.max_len, "max_vocab": cfg.max_vocab}
    if cfg.stage == 2:
        key["base"] = str(cfg.init_from)

    def build() -> dict[str, Any]:
        train, dev, test = _records(data)
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
        unknown = (set(train[2]) | set(dev[2]) | set(test[2])) - set(domains)
        if unknown:
            raise ValueError(f"domains {sorted(unknown)} are not known to the base model")
        out: dict[str, Any] = {"vocab": vocab, "domains": domains}
        for name, (texts, labels, doms) in (("train", train), ("val", dev), ("test", test)):
            out[name] = [
                encode_texts(texts, index, cfg.max_len),
                torch.tensor(labels, dtype=torch.long),
                torch.tensor([dom_index[d] for d in doms], dtype=torch.long),
            ]
        out["fingerprint"] = fingerprint([train, dev, test])
        return out

    t = cached(cache_dir, key, build)
    info = {
        "fingerprint": t["fingerprint"],
        "vocab": t["vocab"],
        "domains": t["domains"],
        "n_classes": int(max(t["train"][1].max(), t["val"][1].max())) + 1,
        "n_train": len(t["train"][1]),
        "n_val": len(t["val"][1]),
        "n_test": len(t["test"][1]),
    }
    return Splits(
        TensorDataset(*t["train"]), TensorDataset(*t["val"]), TensorDataset(*t["test"]), info
    )


def build_optimizers(model: torch.nn.Module, cfg: DAMAConfig, total_steps: int) -> Optimizers:
    inner = unwrap(model)
    lam_opt = torch.optim.Adam([inner.lam], lr=cfg.lambda_lr)
    if cfg.stage == 2:
        return Optimizers([lam_opt])
    base = torch.optim.AdamW(inner.base_parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # stage2_epochs > 0: one trial trains the base, then lambda (a parameter without a
    # gradient is skipped by Adam, so each optimiser acts only in its own phase).
    return Optimizers([base, lam_opt] if cfg.stage2_epochs else [base])


def modulating(model: DAMAModel, cfg: DAMAConfig) -> bool:
    """Stage 2, or a stage-1 trial past its base epochs (stage2_epochs > 0)."""
    if cfg.stage == 2:
        return True
    return cfg.stage2_epochs > 0 and int(model.epochs_done) >= cfg.epochs - cfg.stage2_epochs


def _freeze_base(model: DAMAModel) -> None:
    """Enter stage 2 inside a stage-1 trial: the base stops learning, lambda starts."""
    if model.lam.requires_grad:
        return
    for p in model.base_parameters():
        p.requires_grad_(False)
        p.grad = None
    model.lam.requires_grad_(True)


def _check(loss: torch.Tensor) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite loss {loss.item()}")


def train_step(
    model: torch.nn.Module, batch: Any, opt: Optimizers, cfg: DAMAConfig
) -> dict[str, float]:
    ids, y, d = batch
    inner = unwrap(model)
    if not modulating(inner, cfg):
        dom_logits, sent_logits = model(ids)
        l_s, l_d = F.cross_entropy(sent_logits, y), F.cross_entropy(dom_logits, d)
        loss = l_s + cfg.gamma * l_d
        _check(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "l_s": l_s.item(), "l_d": l_d.item()}
    _freeze_base(inner)
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


Scored = tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]


def _pass(model: DAMAModel, loader: Any, lam: torch.Tensor | None) -> Scored:
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


def check_domain_head(dom_ok: torch.Tensor, doms: torch.Tensor, m: int, refuse: bool) -> None:
    """Stage 2 moves inputs along grad_x L_d: with a domain classifier at chance (a stage-1
    base trained with gamma = 0) that direction is noise. Refuse such a base (or warn)."""
    n = len(doms)
    chance = float(torch.bincount(doms, minlength=m).max()) / max(n, 1)
    acc = float(dom_ok.float().mean())
    if acc > chance + 3.0 * (chance * (1 - chance) / max(n, 1)) ** 0.5:
        return
    why = (
        f"the base's domain classifier is at chance on dev (val/domain_acc {acc:.3f}, "
        f"chance {chance:.3f}, n={n}): stage 2 would modulate along the gradient of an "
        "untrained classifier. Train stage 1 with gamma > 0."
    )
    if refuse:
        raise ValueError(f"stage 2 refused: {why}")
    print(f"warning: {why}", flush=True)


def _metrics(inner: DAMAModel, scored: Scored, last: float | None = None) -> dict[str, float]:
    """The val/ metrics of one _pass; val/acc_last is `last` where given, else val/acc."""
    correct, doms, dom_ok, loss = scored
    acc, counts = _per_domain(correct, doms, inner.arch.n_domains)
    overall = float(correct.float().mean())
    out = {
        "val/acc": overall,
        "val/acc_last": overall if last is None else last,
        "val/loss": loss,
        "val/domain_acc": float(dom_ok.float().mean()),
    }
    out.update(
        {f"val/acc/{name}": float(acc[i]) for i, name in enumerate(inner.domains) if counts[i] > 0}
    )
    return out


def evaluate(model: torch.nn.Module, loader: Any, cfg: DAMAConfig) -> dict[str, float]:
    """Dev metrics. Stage 2: one Algorithm 1 step, then val/acc is measured at the lambda*
    it keeps (what is saved and served); val/acc_last is this epoch's lambda before it."""
    inner = unwrap(model)
    frozen_mode(inner)  # not eval(): stage 2 back-propagates to the input here too
    m = inner.arch.n_domains
    mod = modulating(inner, cfg)
    scored = _pass(inner, loader, inner.lam.detach() if mod else None)
    last = float(scored[0].float().mean())
    if mod:
        acc, counts = _per_domain(scored[0], scored[1], m)
        dev = inner.lam.device
        present = (counts > 0).to(dev)
        if bool((inner.best_acc[present] < 0).any()):  # first epoch: accuracy at lambda = 0
            base = _pass(inner, loader, None)
            check_domain_head(base[2], base[1], m, cfg.chance_base == "refuse")
            inner.best_acc.copy_(_per_domain(*base[:2], m)[0])
        scale_step(inner, acc.to(dev), present, cfg.alpha, cfg.beta, cfg.bound, cfg.scaling)
        scored = _pass(inner, loader, inner.lam_star.detach().clone())
    inner.epochs_done += 1
    inner.train()
    return _metrics(inner, scored, last)


def evaluate_test(model: torch.nn.Module, loader: Any, cfg: DAMAConfig) -> dict[str, float]:
    """Method.evaluate_test: the model as it is served (stage 2: the kept lambda*), with no
    Algorithm 1 step: the test split never moves lambda."""
    inner = unwrap(model)
    frozen_mode(inner)
    lam = inner.lam_star.detach().clone() if modulating(inner, cfg) else None
    scored = _pass(inner, loader, lam)
    inner.train()
    out = _metrics(inner, scored)
    counts = torch.bincount(scored[1], minlength=inner.arch.n_domains)
    out.update({f"val/n/{name}": float(counts[i]) for i, name in enumerate(inner.domains)})
    return out
