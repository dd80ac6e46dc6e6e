"""Build, save and load DANN models; the raw-text predictor the MLflow pyfunc serves.

Directory: ``weights.pt`` (state dict, loaded with weights_only=True), ``arch.json``,
``meta.json`` (vocabulary, domain names) and ``config.json``. Prediction needs no domain:
the sentiment head reads the domain-invariant features alone.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from adaptune.methods.dama.model import encode_texts
from adaptune_dann.config import DANNConfig
from adaptune_dann.model import DANN, Arch, unwrap


def build_model(cfg: DANNConfig, info: dict[str, Any]) -> DANN:
    return DANN(
        Arch(
            vocab_size=len(info["vocab"]),
            n_domains=len(info["domains"]),
            n_classes=max(2, int(info.get("n_classes", 2))),
            embedding_dim=cfg.embedding_dim,
            hidden=cfg.hidden,
            domain_hidden=cfg.domain_hidden,
            max_len=cfg.max_len,
            dropout=cfg.dropout,
        )
    )


def save_model(model: torch.nn.Module, cfg: DANNConfig, info: dict[str, Any], path: str) -> None:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    inner = unwrap(model)
    torch.save({k: v.detach().cpu() for k, v in inner.state_dict().items()}, out / "weights.pt")
    inner.arch.save(out / "arch.json")
    meta = {"vocab": list(info["vocab"]), "domains": list(info["domains"])}
    (out / "meta.json").write_text(json.dumps(meta))
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))


def load_predictor(path: str) -> Callable[[Any], pd.DataFrame]:
    root = Path(path)
    model = DANN(Arch.load(root / "arch.json"))
    model.load_state_dict(torch.load(root / "weights.pt", weights_only=True, map_location="cpu"))
    model.eval()
    meta = json.loads((root / "meta.json").read_text())
    index = {w: i for i, w in enumerate(meta["vocab"])}
    domains = list(meta["domains"])

    def predict(inputs: Any) -> pd.DataFrame:
        ids = encode_texts(_texts(inputs), index, model.arch.max_len)
        with torch.no_grad():
            sent, dom = model(ids)
        probs = sent.softmax(-1)
        return pd.DataFrame(
            {
                "label": probs.argmax(-1).tolist(),
                "prob_positive": probs[:, -1].tolist(),
                # what the domain head still reads from the features (less is the aim)
                "domain_guess": [domains[i] for i in dom.argmax(-1).tolist()],
            }
        )

    return predict


def _texts(inputs: Any) -> list[str]:
    """Texts from a DataFrame with a 'text' column, records with 'text', a list or one."""
    if isinstance(inputs, pd.DataFrame):
        if "text" not in inputs.columns:  # never score some other column
            raise ValueError(f"expected a 'text' column, got columns {list(inputs.columns)}")
        return [str(t) for t in inputs["text"]]
    if isinstance(inputs, str):
        return [inputs]
    if isinstance(inputs, Sequence):
        return [str(r["text"]) if isinstance(r, dict) else str(r) for r in inputs]
    raise TypeError(
        f"expected text, a list of texts or a DataFrame with 'text', got {type(inputs)}"
    )
