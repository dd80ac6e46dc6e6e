"""A trial's training state at the end of an epoch, so a restarted worker group goes on
from there: model, optimisers, schedulers, RNGs and the data order's generator.

    save_state(directory, model, opt, epoch, generator)     # rank 0, every epoch
    epoch = load_state(directory, model, opt, generator)    # every rank, on a restart

Loading uses torch.load(weights_only=True): a checkpoint holds tensors and plain values
only (RNG states are stored as tensors and lists), never pickled objects.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adaptune.method import Optimizers

STATE_FILE = "train_state.pt"


def _rng() -> dict[str, Any]:
    np_state: Any = np.random.get_state(legacy=True)
    kind, keys, pos, has_gauss, gauss = np_state
    state: dict[str, Any] = {
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
        "numpy": [kind, torch.from_numpy(keys.copy()), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, gauss_np = state["numpy"]
    np.random.set_state((kind, keys.numpy(), pos, has_gauss, gauss_np))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(
    directory: str | Path,
    model: torch.nn.Module,
    opt: Optimizers,
    epoch: int,
    generator: torch.Generator,
) -> None:
    inner = getattr(model, "module", model)  # the same keys with or without DDP
    torch.save(
        {
            "epoch": epoch,
            "model": inner.state_dict(),
            "optimizers": [o.state_dict() for o in opt.optimizers],
            "schedulers": [s.state_dict() for s in opt.schedulers],
            "generator": generator.get_state(),
            "rng": _rng(),
        },
        Path(directory) / STATE_FILE,
    )


def load_state(
    directory: str | Path,
    model: torch.nn.Module,
    opt: Optimizers,
    generator: torch.Generator,
) -> int:
    """Restore everything save_state wrote; returns the epoch it was saved after."""
    device = next(model.parameters()).device
    state = torch.load(Path(directory) / STATE_FILE, map_location=device, weights_only=True)
    getattr(model, "module", model).load_state_dict(state["model"])
    for o, s in zip(opt.optimizers, state["optimizers"], strict=True):
        o.load_state_dict(s)
    for sch, s in zip(opt.schedulers, state["schedulers"], strict=True):
        sch.load_state_dict(s)
    generator.set_state(state["generator"].cpu())
    _set_rng(state["rng"])
    return int(state["epoch"])
