"""A local Hugging Face model folder's module names, read from its safetensors headers,
so ``validate`` can check LoRA target modules against them without loading torch.

    names = weight_modules(Path("models/finbert"))  # {"encoder.layer.0.attention.self.query", ..}
    problem = lora_problem(Path("models/finbert"), ("q_proj", "v_proj"))

A safetensors file starts with an 8-byte little-endian length and a JSON header naming
every tensor; a sharded model lists its tensors in ``model.safetensors.index.json``. A
module with a 2-D weight (a Linear, or an Embedding) is one LoRA can adapt; a target
matches a module the way PEFT matches it: the module's full name, or its last dotted
parts. A folder with only ``pytorch_model.bin`` (a pickle) is not read: None.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path
from typing import Any

__all__ = ["lora_check", "lora_problem", "weight_modules"]

MAX_HEADER = 100 << 20  # safetensors' own limit on the header


def _tensors(path: Path) -> dict[str, list[int]]:
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        if size > MAX_HEADER:
            raise ValueError(f"{path.name}: not a safetensors file")
        header = json.loads(f.read(size))
    return {k: v.get("shape", []) for k, v in header.items() if k != "__metadata__"}


def weight_modules(folder: Path) -> set[str] | None:
    """The names of the modules with a 2-D weight, or None when the folder holds no
    safetensors weights (or they do not read)."""
    index = folder / "model.safetensors.index.json"
    try:
        if index.is_file():
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            files = [folder / s for s in sorted(shards)]
        else:
            files = sorted(folder.glob("*.safetensors"))
        if not files:
            return None
        tensors: dict[str, list[int]] = {}
        for f in files:
            tensors.update(_tensors(f))
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
    return {
        name.removesuffix(".weight")
        for name, shape in tensors.items()
        if name.endswith(".weight") and len(shape) == 2
    }


def lora_problem(folder: Path, targets: tuple[str, ...] | list[str]) -> str | None:
    """The targets that match no adaptable module of the model, with the names it has."""
    modules = weight_modules(folder)
    if modules is None:
        return None
    missing = [t for t in targets if not any(m == t or m.endswith("." + t) for m in modules)]
    if not missing:
        return None
    have = sorted({m.rsplit(".", 1)[-1] for m in modules})
    return (
        f"{', '.join(repr(t) for t in missing)} {'matches' if len(missing) == 1 else 'match'} "
        f"no module of {folder.name}; its module names: {', '.join(have)}"
    )


def lora_check(
    config_cls: Any, fixed: dict[str, Any], searched: bool, folder: Path
) -> tuple[str, str] | None:
    """(the job key, the problem) when LoRA may be on (its rank searched, or fixed / by
    default above 0) and its targets miss the local backbone's modules; else None."""
    defaults = {f.name: f.default for f in dataclasses.fields(config_cls)}
    if not searched and fixed.get("lora_rank", defaults.get("lora_rank")) == 0:
        return None
    targets = fixed.get("lora_targets", defaults["lora_targets"])
    problem = lora_problem(folder, list(targets)) if isinstance(targets, list | tuple) else None
    if problem is None:
        return None
    return f"fixed.{'lora_targets' if 'lora_targets' in fixed else 'backbone'}", problem
