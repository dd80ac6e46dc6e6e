"""Label-balanced, phased batches for DALLMi (the Method.train_loader hook).

    loader = train_loader(train_ds, cfg, torch.Generator().manual_seed(0), rank=0, world=1)
    for batch in loader:  # {"ids", "mask", "y", "role"}; role -2 source, -1 pool, l positive

Each pass over the loader is one epoch of the target phase (step 2; step 1, the source
phase, is trained before it: source.py). Mode source_only yields shuffled source batches
(it continues on the source, for the same number of steps). The other modes yield target
batches: a random batch of target documents (the unlabelled pool) plus, for every label
with observed positives, ``pos_batch_size`` documents drawn from that label's positives
(with replacement when it has fewer), so every label has positives in every batch.
Every mode has the same number of steps per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .config import DALLMiConfig

SOURCE, POOL = -2, -1


class DomainDataset(Dataset[Any]):
    """Source rows then target rows; y holds full source labels and observed target ones."""

    def __init__(self, ids: torch.Tensor, mask: torch.Tensor, y: torch.Tensor, n_source: int):
        self.ids, self.mask, self.y, self.n_source = ids, mask, y, n_source

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, ...]:
        i, role = item
        return self.ids[i], self.mask[i], self.y[i], torch.tensor(role)


def collate(rows: list[tuple[torch.Tensor, ...]]) -> dict[str, torch.Tensor]:
    ids, mask, y, role = (torch.stack(col) for col in zip(*rows, strict=True))
    return {"ids": ids, "mask": mask, "y": y, "role": role}


class PhasedBatches:
    """A batch sampler of (index, role) pairs; it counts epochs by its own passes."""

    def __init__(self, ds: DomainDataset, cfg: DALLMiConfig, seed: int, rank: int, world: int):
        self.cfg, self.rank, self.epoch = cfg, rank, 0
        n, ns = len(ds), ds.n_source
        # Each rank takes every world-th document of each domain: disjoint shards.
        self.source = np.arange(ns)[rank::world]
        self.target = np.arange(ns, n)[rank::world]
        observed = ds.y[ns:].numpy() > 0
        self.positives = [ns + np.flatnonzero(observed[:, lab]) for lab in range(ds.y.shape[1])]
        self.rng = np.random.default_rng([seed, rank])
        self.steps = max(1, min(len(self.source), len(self.target)) // cfg.batch_size)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        source = self.cfg.mode == "source_only"
        self.epoch += 1
        pool = self.source if source else self.target
        order = self.rng.permutation(pool)
        bs = self.cfg.batch_size
        for step in range(self.steps):
            chunk = order[(step * bs) % len(order) :][:bs]
            if source:
                yield [(int(i), SOURCE) for i in chunk]
                continue
            batch = [(int(i), POOL) for i in chunk]
            for label, pos in enumerate(self.positives):
                if len(pos) == 0:
                    continue
                k = self.cfg.pos_batch_size
                picked = self.rng.choice(pos, size=k, replace=len(pos) < k)
                batch += [(int(i), label) for i in picked]
            yield batch


def train_loader(
    ds: DomainDataset, cfg: DALLMiConfig, generator: torch.Generator, rank: int, world: int
) -> DataLoader[Any]:
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    return DataLoader(
        ds, batch_sampler=PhasedBatches(ds, cfg, seed, rank, world), collate_fn=collate
    )
