"""A trial's training state at the end of an epoch, so a restarted worker group goes on
from there: model, optimisers, schedulers, RNGs and the data order's generator.

    frozen = frozen_at_build(model)                                 # once, after build_model
    save_state(directory, model, opt, epoch, generator, frozen)     # rank 0, every epoch
    epoch = load_state(directory, model, opt, generator, frozen)    # every rank, on a restart

Only what training changes is stored: every parameter but those frozen when the model
was built (a frozen backbone, a stage-1 base, MAD's pretrained convs: build_model
rebuilds them exactly), and the buffers. A parameter frozen later (DAMA's switch to
stage 2 within a trial) is still stored, since a rebuilt model would not have it.
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


def frozen_at_build(model: torch.nn.Module) -> frozenset[str]:
    """The state_dict keys of the parameters the freshly built model does not train."""
    inner = getattr(model, "module", model)  # the same keys with or without DDP
    return frozenset(n for n, p in inner.named_parameters() if not p.requires_grad)


def save_state(
    directory: str | Path,
    model: torch.nn.Module,
    opt: Optimizers,
    epoch: int,
    generator: torch.Generator,
    frozen: frozenset[str] = frozenset(),
) -> None:
    state = getattr(model, "module", model).state_dict()
    torch.save(
        {
            "epoch": epoch,
            "model": {k: v for k, v in state.items() if k not in frozen},
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
    frozen: frozenset[str] = frozenset(),
) -> int:
    """Restore everything save_state wrote; returns the epoch it was saved after. Keys
    missing from the checkpoint must be ones the rebuilt model holds frozen."""
    device = next(model.parameters()).device
    state = torch.load(Path(directory) / STATE_FILE, map_location=device, weights_only=True)
    result = getattr(model, "module", model).load_state_dict(state["model"], strict=False)
    missing = set(result.missing_keys) - frozen
    if missing or result.unexpected_keys:
        raise RuntimeError(
            f"checkpoint {directory} does not fit the model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(result.unexpected_keys)[:5]}"
        )
    for o, s in zip(opt.optimizers, state["optimizers"], strict=True):
        o.load_state_dict(s)
    for sch, s in zip(opt.schedulers, state["schedulers"], strict=True):
        sch.load_state_dict(s)
    generator.set_state(state["generator"].cpu())
    _set_rng(state["rng"])
    return int(state["epoch"])
