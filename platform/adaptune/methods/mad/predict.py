"""Save a trained MAD model as a directory, and load it back as an image predictor.

    predict = load_predictor(path)
    predict(pd.DataFrame({"image": [img], "domain": ["inverted"]}))   # -> class, prob

Directory: ``model.pt`` (the MADNet state dict, base + every domain's adapters, loaded
with weights_only=True) and ``config.json`` (MADConfig, domains, classes, input size;
from an image source also each domain's class count and names, mean and std).
An image is an (H, W), (H, W, 3) or (3, H, W) array in [0, 1], resized to the input size
and normalised as its domain was in training; from an image source the output has the
class's name too ("label").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .config import MADConfig
from .model import MADNet, ResNet26, source_index, unwrap
from .step import normalise


def save_model(
    model: torch.nn.Module, cfg: MADConfig, data_info: dict[str, Any], path: str
) -> None:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(unwrap(model).state_dict(), out / "model.pt")
    meta = {
        "config": dataclasses.asdict(cfg),
        "domains": list(data_info["domains"]),
        "num_classes": int(data_info["num_classes"]),
        "size": int(data_info["size"]),
    }
    for key in ("classes", "class_names", "source_index", "mean", "std"):  # image sources
        if key in data_info:
            meta[key] = data_info[key]
    (out / "config.json").write_text(json.dumps(meta, indent=2))


def to_tensor(image: Any, size: int) -> torch.Tensor:
    """One image as a (3, size, size) tensor in [0, 1]."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))
    if x.ndim == 1:  # a flattened square grey image, like sklearn's digits.data rows
        side = round(len(x) ** 0.5)
        x = x.reshape(side, side)
    if x.ndim == 2:
        x = x[None].repeat(3, 1, 1)
    elif x.ndim == 3 and x.shape[-1] == 3 and x.shape[0] != 3:
        x = x.permute(2, 0, 1)
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (3, H, W) image, got {tuple(x.shape)}")
    x = F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False)[0]
    return x.clamp(0, 1)


def _rows(inputs: Any) -> tuple[list[Any], list[Any]]:
    """(images, domains) from a DataFrame with 'image' (+ 'domain') or a list of images."""
    if isinstance(inputs, pd.DataFrame):
        if "image" not in inputs.columns:
            raise ValueError(f"expected an 'image' column, got columns {list(inputs.columns)}")
        images = list(inputs["image"])
        domains = list(inputs["domain"]) if "domain" in inputs.columns else [0] * len(images)
        return images, domains
    if isinstance(inputs, list | tuple):
        return list(inputs), [0] * len(inputs)
    raise TypeError(f"expected a list of images or a DataFrame with 'image', got {type(inputs)}")


def load_predictor(path: str) -> Callable[[Any], pd.DataFrame]:
    root = Path(path)
    meta = json.loads((root / "config.json").read_text())
    raw = meta["config"]
    cfg = MADConfig(**{**raw, "baseline_errors": tuple(raw["baseline_errors"])})
    domains: list[str] = meta["domains"]
    base = ResNet26(cfg.width, meta["num_classes"])
    frozen = meta.get("source_index", source_index(domains))
    classes = meta.get("classes", meta["num_classes"])
    model = MADNet(base, len(domains), classes, cfg, frozen, domains)
    model.load_state_dict(torch.load(root / "model.pt", weights_only=True, map_location="cpu"))
    model.eval()

    @torch.no_grad()
    def predict(inputs: Any) -> pd.DataFrame:
        images, names = _rows(inputs)
        ids = [domains.index(n) if isinstance(n, str) else int(n) for n in names]
        classes: list[int] = []
        probs: list[float] = []
        for image, d in zip(images, ids, strict=True):
            x = to_tensor(image, meta["size"])
            if "mean" in meta:  # an image source: its domain's own statistics
                mean, std = (torch.tensor(meta[k][d])[:, None, None] for k in ("mean", "std"))
                x = (x - mean) / std
            else:
                x = normalise(x)
            prob = model(x[None], d).softmax(-1)[0]
            classes.append(int(prob.argmax()))
            probs.append(float(prob.max()))
        out = pd.DataFrame({"domain": [domains[i] for i in ids], "class": classes, "prob": probs})
        if "class_names" in meta:
            out["label"] = [meta["class_names"][d][c] for d, c in zip(ids, classes, strict=True)]
        return out

    return predict
