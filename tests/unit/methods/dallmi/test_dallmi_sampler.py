"""Label-balanced target batches that hold positives of every label (the source phase is
trained before the loop: source.py); source_only stays on the source for the same
number of steps; ranks get disjoint shards."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from adaptune.methods.dallmi.config import DALLMiConfig
from adaptune.methods.dallmi.sampler import POOL, SOURCE, DomainDataset, train_loader

N_SOURCE, N_TARGET, LABELS = 40, 60, 4


def dataset() -> DomainDataset:
    rng = np.random.default_rng(0)
    y = torch.from_numpy((rng.random((N_SOURCE + N_TARGET, LABELS)) < 0.3).astype(np.float32))
    y[N_SOURCE:, 3] = 0
    y[N_SOURCE + 5, 3] = 1  # label 3: a single observed target positive
    ids = torch.arange(N_SOURCE + N_TARGET).unsqueeze(1).repeat(1, 3)  # row id in every token
    return DomainDataset(ids, torch.ones_like(ids), y, N_SOURCE)


def epochs(cfg: DALLMiConfig, rank: int = 0, world: int = 1) -> list[list[dict]]:
    loader = train_loader(dataset(), cfg, torch.Generator().manual_seed(0), rank, world)
    return [list(loader) for _ in range(cfg.epochs)]


def test_every_target_batch_has_positives_of_every_label() -> None:
    cfg = DALLMiConfig(batch_size=8, pos_batch_size=2, epochs=3, source_epochs=1)
    ds = dataset()
    for batch in [b for ep in epochs(cfg) for b in ep]:
        for label in range(LABELS):
            rows = batch["ids"][batch["role"] == label, 0]
            assert len(rows) == 2  # with replacement where the label has one positive
            assert (ds.y[rows, label] == 1).all() and (rows >= N_SOURCE).all()
        pool = batch["ids"][batch["role"] == POOL, 0]
        assert len(pool) == 8 and (pool >= N_SOURCE).all()


def test_every_epoch_of_the_loop_is_the_target_phase() -> None:
    cfg = DALLMiConfig(batch_size=8, epochs=3, source_epochs=2)
    phases = [{int(r) for b in ep for r in b["role"].unique()} for ep in epochs(cfg)]
    assert all(SOURCE not in phase for phase in phases)


def test_every_mode_gets_the_same_number_of_target_phase_steps() -> None:
    counts = {
        mode: sum(len(ep) for ep in epochs(DALLMiConfig(batch_size=8, epochs=3, mode=mode)))
        for mode in ("dallmi", "pu_bce", "oracle", "source_only")
    }
    assert len(set(counts.values())) == 1 and counts["dallmi"] == 3 * (N_SOURCE // 8)


def test_source_only_mode_never_leaves_the_source() -> None:
    cfg = DALLMiConfig(batch_size=8, epochs=3, mode="source_only")
    assert all((b["role"] == SOURCE).all() for ep in epochs(cfg) for b in ep)


def test_ranks_draw_their_pools_from_disjoint_shards() -> None:
    cfg = DALLMiConfig(batch_size=4, epochs=2, source_epochs=1)
    seen = []
    for rank in (0, 1):
        ep = epochs(cfg, rank, world=2)[0]
        seen.append({int(i) for b in ep for i in b["ids"][b["role"] == POOL, 0]})
    assert seen[0] and seen[1] and not seen[0] & seen[1]


def test_steps_per_epoch_are_fixed_for_the_lr_schedule() -> None:
    cfg = dataclasses.replace(DALLMiConfig(), batch_size=8, epochs=2)
    loader = train_loader(dataset(), cfg, torch.Generator().manual_seed(0), 0, 1)
    assert len(loader) == N_SOURCE // 8 == len(list(loader)) == len(list(loader))
