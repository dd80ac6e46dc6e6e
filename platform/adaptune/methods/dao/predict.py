"""Save a trained DAO model as a directory, and load it back as a raw-text predictor.

Directory: the encoder as methods/encoder.py saves it (LoRA adapters, tokenizer and a
checked reference to the frozen backbone; the whole encoder for full fine-tuning),
``heads.pt`` (state dicts, loaded with weights_only=True), ``config.json`` and, for
the DAO weighting, ``dao_trajectory.csv`` / ``.png`` (w_c, alpha, beta every log_every
steps; report.py).
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

from .config import DAOConfig
from .loss import CLASS_NAMES
from .model import DAOModel, backbone_path, load_tokenizer, unwrap
from .report import write_trajectory


def save_model(
    model: torch.nn.Module, cfg: DAOConfig, data_info: dict[str, Any], path: str
) -> None:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    dao = unwrap(model)
    encoder_lib.save_encoder(dao.encoder, load_tokenizer(cfg), out, backbone_path(cfg))
    heads = {"reg_head": dao.reg_head.state_dict(), "cls_head": dao.cls_head.state_dict()}
    torch.save(heads, out / "heads.pt")
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    write_trajectory(dao.trajectory, out)


def load_predictor(path: str) -> Callable[[Any], pd.DataFrame]:
    root = Path(path)
    raw = json.loads((root / "config.json").read_text())
    raw["lora_targets"] = tuple(raw["lora_targets"])
    cfg = DAOConfig(**{**raw, "lora_rank": 0, "init_from": None})  # merged: a plain encoder
    encoder = encoder_lib.load_saved_encoder(root)
    tokenizer = encoder_lib.load_tokenizer(str(root))
    model = DAOModel(encoder, dataclasses.replace(cfg, weighting="constant"))
    heads = torch.load(root / "heads.pt", weights_only=True, map_location="cpu")
    model.reg_head.load_state_dict(heads["reg_head"])
    model.cls_head.load_state_dict(heads["cls_head"])
    model.eval()

    @torch.no_grad()
    def predict(texts: Any) -> pd.DataFrame:
        enc = encoder_lib.tokenize(tokenizer, encoder_lib.texts_of(texts), cfg.max_len)
        _, score, logits = model(enc["input_ids"], enc["attention_mask"])
        cls = logits.argmax(-1)
        return pd.DataFrame(
            {
                "score": score.clamp(-1, 1).tolist(),
                "class": cls.tolist(),
                "label": [CLASS_NAMES[i] for i in cls.tolist()],
            }
        )

    return predict
