"""A file cache for tokenised data, so trials and workers do not tokenise again.

The key is a hash of everything the result depends on; writes are atomic (write to a
temporary file, then rename), so concurrent workers at worst both build it once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def cached(
    cache_dir: str | Path | None, key: Any, build: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Load the tensors stored under `key`, or build and store them."""
    if cache_dir is None:
        return build()
    path = Path(cache_dir) / f"{fingerprint(key)[:24]}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    torch.save(value, tmp)
    os.replace(tmp, path)
    return value
