"""Build, save and load DAMA models; the raw-text predictor the MLflow pyfunc serves.

    model = build_model(cfg, data_info)        # stage 2: the stage-1 base from cfg.init_from
    save_model(model, cfg, data_info, "out/")  # weights.pt, arch.json, vocab.json, ...
    predict = load_predictor("out/")
    predict(pd.DataFrame({"text": ["long battery life"], "domain": ["electronics"]}))

Directory: ``weights.pt`` (state dict, loaded with weights_only=True), ``arch.json``,
``meta.json`` (vocabulary and domain names) and ``config.json``. Prediction applies the
kept stage-2 lambda* of the sample's domain (one extra backward pass to the embeddings);
a sample without a domain gets the domain classifier's guess.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .config import DAMAConfig
from .model import PAD, Arch, DAMAModel, encode_texts, resolve_backend, unwrap
from .modulation import modulate_model


def read_base_meta(path: str) -> tuple[list[str], list[str]]:
    """(vocabulary, domain names) of a saved model."""
    meta = json.loads((Path(path) / "meta.json").read_text())
    return list(meta["vocab"]), list(meta["domains"])


def _load(path: Path, backend: str) -> DAMAModel:
    if not (path / "arch.json").exists():
        raise FileNotFoundError(f"init_from: no DAMA model at {path} (arch.json missing)")
    model = DAMAModel(Arch.load(path / "arch.json"), backend)
    state = torch.load(path / "weights.pt", weights_only=True, map_location="cpu")
    state.setdefault("epochs_done", torch.tensor(0))  # saved before that buffer existed
    model.load_state_dict(state)
    model.domains = read_base_meta(str(path))[1]
    return model


def build_model(cfg: DAMAConfig, info: dict[str, Any]) -> DAMAModel:
    """Stage 1: a fresh base. Stage 2: the saved base, frozen; lambda starts at 0."""
    backend = resolve_backend(cfg.slstm_backend)
    if cfg.stage == 2:
        model = _load(Path(str(cfg.init_from)), backend)
        for p in model.parameters():
            p.requires_grad_(False)
        model.lam.data.zero_()
        model.lam_star.zero_()
        model.best_acc.fill_(-1.0)
        model.lr_scale.fill_(1.0)
        model.grad_ref.fill_(float(cfg.batch_size))
        model.epochs_done.zero_()
        model.lam.requires_grad_(True)
        return model
    arch = Arch(
        vocab_size=len(info["vocab"]),
        n_domains=len(info["domains"]),
        n_classes=max(2, int(info.get("n_classes", 2))),
        embedding_dim=cfg.embedding_dim,
        num_blocks=cfg.num_blocks,
        slstm_at=cfg.slstm_at,
        num_heads=cfg.num_heads,
        max_len=cfg.max_len,
        dropout=cfg.dropout,
    )
    model = DAMAModel(arch, backend)
    model.domains = list(info["domains"])
    model.grad_ref.fill_(float(cfg.batch_size))  # for stage2_epochs > 0
    return model


def save_model(model: torch.nn.Module, cfg: DAMAConfig, info: dict[str, Any], path: str) -> None:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    inner = unwrap(model)
    state = {k: v.detach().cpu() for k, v in inner.state_dict().items()}
    torch.save(state, out / "weights.pt")
    inner.arch.save(out / "arch.json")
    meta = {"vocab": list(info["vocab"]), "domains": list(inner.domains)}
    (out / "meta.json").write_text(json.dumps(meta))
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))


def load_predictor(path: str) -> Callable[[Any], pd.DataFrame]:
    root = Path(path)
    model = _load(root, "vanilla")  # serving runs on CPU
    model.eval()
    vocab, domains = read_base_meta(path)
    index = {w: i for i, w in enumerate(vocab)}
    lam = model.lam_star.clone()  # the kept stage-2 state; zeros for a stage-1 model

    def predict(inputs: Any) -> pd.DataFrame:
        texts, given = _inputs(inputs)
        ids = encode_texts(texts, index, model.arch.max_len)
        mask = ids != PAD
        with torch.no_grad():
            guessed = model(ids)[0].argmax(-1)
        d = torch.tensor(
            [domains.index(g) if g is not None else int(guessed[i]) for i, g in enumerate(given)],
            dtype=torch.long,
        )
        x = model.embed(ids).detach()
        if bool(lam.any()):
            x = modulate_model(model, x, mask, d, lam)
        with torch.no_grad():
            probs = model.sentiment_logits(x, mask).softmax(-1)
        return pd.DataFrame(
            {
                "label": probs.argmax(-1).tolist(),
                "prob_positive": probs[:, -1].tolist(),
                "domain": [domains[i] for i in d.tolist()],
            }
        )

    return predict


def _inputs(inputs: Any) -> tuple[list[str], list[str | None]]:
    """Texts and their domains (None: unknown) from a DataFrame, a list or one string."""
    if isinstance(inputs, pd.DataFrame):
        if "text" not in inputs.columns:  # never score some other column
            raise ValueError(f"expected a 'text' column, got columns {list(inputs.columns)}")
        texts = [str(t) for t in inputs["text"]]
        if "domain" in inputs.columns:
            return texts, [None if pd.isna(v) else str(v) for v in inputs["domain"]]
        return texts, [None] * len(texts)
    if isinstance(inputs, str):
        return [inputs], [None]
    if isinstance(inputs, Sequence):
        return [str(t) for t in inputs], [None] * len(inputs)
    raise TypeError(
        f"expected text, a list of texts or a DataFrame with 'text', got {type(inputs)}"
    )
