"""The held-out test split: drawn, loaded or carved the same way for every method.

    n = test_size(data)                      # round(n_train * test_fraction), at least 1
    seed = test_seed(data.seed)              # a generated corpus's test sample
    spec = test_source(data)                 # a file / HF split given for test, or None
    rest, test = carve(labels, data.test_fraction, data.seed)   # stratified indices
    train, val = val_split(len(rest), data)  # positions in rest: a seeded val share

No trial and no sampler ever sees the test split: the worker scores it once, after the
last epoch, and only the chosen trial's numbers are recorded (driver/final.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from adaptune.job.spec import DataSpec

__all__ = ["carve", "test_seed", "test_size", "test_source", "val_split"]

# A generated corpus's test sample is drawn with its own seed: the data seed shifted by a
# large prime, so it never coincides with another data seed's training sample.
TEST_SEED_SHIFT = 1_000_003


def test_seed(seed: int) -> int:
    return (seed + TEST_SEED_SHIFT) % 2**32


def test_size(data: DataSpec) -> int:
    return max(1, round(data.n_train * data.test_fraction))


def test_source(data: DataSpec) -> DataSpec | None:
    """Where a real test split comes from: `test_path` (a file) or `test_split` (a Hugging
    Face split); None when the test share is carved from the training data."""
    if data.test_path and data.source not in ("hf", "fdu-mtl"):  # a file in the source's format
        return data.model_copy(update={"path": data.test_path, "n_train": 10**9})
    if data.source == "hf" and data.test_split:
        return data.model_copy(update={"split": data.test_split, "n_train": 10**9})
    return None


def carve(labels: Sequence[Any], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, test) row indices: a seeded share `fraction` of the rows for test, stratified
    by `labels` (each label keeps its share; labels too rare to split stay in rest)."""
    rng = np.random.default_rng(test_seed(seed))
    keys = [str(x) for x in labels]
    rest: list[int] = []
    test: list[int] = []
    for key in sorted(set(keys)):
        rows = np.flatnonzero(np.asarray(keys) == key)
        rows = rows[rng.permutation(len(rows))]
        k = round(len(rows) * fraction) if len(rows) > 1 else 0
        test.extend(rows[:k].tolist())
        rest.extend(rows[k:].tolist())
    if not test and len(keys) > 1:  # every label too rare: an unstratified share
        order = rng.permutation(len(keys))
        k = max(1, round(len(keys) * fraction))
        return np.sort(order[k:]), np.sort(order[:k])
    return np.sort(np.asarray(rest, dtype=int)), np.sort(np.asarray(test, dtype=int))


def val_split(n: int, data: DataSpec) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) positions of n rows: a seeded share data.val_fraction (at least 1) is val."""
    order = np.random.default_rng(data.seed).permutation(n)
    n_val = max(1, round(n * data.val_fraction))
    return order[n_val:], order[:n_val]
