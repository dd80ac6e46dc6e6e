"""Save a trained DALLMi model as a directory, and load it back as a raw-text predictor.

    save_model(model, cfg, data_info, "out/")
    predict = load_predictor("out/")
    predict(["brain scan shows a tumor"])   # DataFrame: labels, p_<label> per label

Directory: the encoder as methods/encoder.py saves it (LoRA adapters, tokenizer and the
frozen base they sit on: a checked backbone reference, or the source phase's saved
encoder under ``base/``; the whole encoder for full fine-tuning),
``head.pt`` (state dict, loaded with weights_only=True), ``config.json``,
``labels.json`` and ``eval.json`` (per-label AP of the last evaluation).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from adaptune.methods import encoder as encoder_lib

from .config import DALLMiConfig
from .model import (
    DALLMiModel,
    backbone_path,
    load_tokenizer,
    start_path,
    unwrap,
)


def save_model(
    model: torch.nn.Module, cfg: DALLMiConfig, data_info: dict[str, Any], path: str
) -> None:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    inner = unwrap(model)
    base = start_path(cfg, data_info) or backbone_path(cfg)  # what build_model started from
    encoder_lib.save_encoder(inner.encoder, load_tokenizer(cfg), out, base)
    torch.save(inner.head.state_dict(), out / "head.pt")
    labels = list(data_info["labels"])
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    (out / "labels.json").write_text(json.dumps(labels))
    ap = dict(zip(labels, inner.last_per_label_ap, strict=False))
    (out / "eval.json").write_text(json.dumps({"per_label_ap": ap, "data": data_info}, indent=2))


def load_predictor(path: str) -> Callable[[Any], pd.DataFrame]:
    root = Path(path)
    raw = json.loads((root / "config.json").read_text())
    raw["lora_targets"] = tuple(raw["lora_targets"])
    cfg = DALLMiConfig(**{**raw, "lora_rank": 0})  # weights are merged: a plain encoder
    labels = json.loads((root / "labels.json").read_text())
    encoder = encoder_lib.load_saved_encoder(root)
    tokenizer = encoder_lib.load_tokenizer(str(root))
    model = DALLMiModel(encoder, cfg, len(labels), labels)
    model.head.load_state_dict(torch.load(root / "head.pt", weights_only=True, map_location="cpu"))
    model.eval()

    @torch.no_grad()
    def predict(texts: Any) -> pd.DataFrame:
        enc = encoder_lib.tokenize(tokenizer, encoder_lib.texts_of(texts), cfg.max_len)
        probs = torch.sigmoid(model(enc["input_ids"], enc["attention_mask"])).numpy()
        frame = pd.DataFrame({f"p_{name}": probs[:, j] for j, name in enumerate(labels)})
        frame.insert(
            0,
            "labels",
            [[name for j, name in enumerate(labels) if row[j] >= cfg.threshold] for row in probs],
        )
        return frame

    return predict
