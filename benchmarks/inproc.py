"""One trial in this process, no Ray: the worker's loop (adaptune/worker.py) on one rank.

    curve = train_in_process("dao", {"lr": 1e-4, "epochs": 2, ...}, data, cache_dir)
    curve.epochs  # [{"val/mse": ..., "epoch_time_s": ..., ...}, ...]

Same data (the tokenised cache), model, optimisers, seeding, threads, step, evaluation
and per-epoch timing as a Ray Train worker, so its learning curves are the ones a
trial of the search would report. Used as the plain in-process baseline of
trial_overhead.py and to record the grids of search_efficiency.py.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Curve:
    params: dict[str, Any]
    epochs: list[dict[str, float]] = field(default_factory=list)  # one report per epoch
    setup_s: float = 0.0  # config, data, model, loaders, optimisers
    model_dir: str | None = None  # saved after the last epoch, if asked


def train_in_process(
    method_name: str,
    params: dict[str, Any],
    data: dict[str, Any],
    cache_dir: str | None,
    *,
    threads: int = 1,
    save_to: str | None = None,
    on_epoch: Any = None,
) -> Curve:
    """Train one config; `on_epoch(epoch, metrics)` returning False stops early."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    from adaptune.job.spec import DataSpec
    from adaptune.method import make_config
    from adaptune.methods import get_method
    from adaptune.train.worker import train_epoch

    started = time.perf_counter()
    method = get_method(method_name)
    cfg = make_config(method, params)
    torch.set_num_threads(threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    train_ds, val_ds, _, info = method.build_data(cfg, DataSpec.model_validate(data), cache_dir)
    model = method.build_model(cfg, info)
    generator = torch.Generator().manual_seed(cfg.seed)
    if method.train_loader is not None:
        train_loader = method.train_loader(train_ds, cfg, generator, 0, 1)
    else:
        train_loader = DataLoader(
            train_ds, batch_size=cfg.batch_size, shuffle=True, drop_last=True, generator=generator
        )
    val_loader = DataLoader(val_ds, batch_size=cfg.batch_size * 4)
    opt = method.build_optimizers(model, cfg, len(train_loader) * cfg.epochs)
    out = Curve(params=dict(params), setup_s=time.perf_counter() - started)
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        metrics = train_epoch(method, model, train_loader, opt, cfg)
        train_time = time.perf_counter() - start
        metrics.update(method.evaluate(model, val_loader, cfg))
        metrics.update(
            epoch=epoch, train_time_s=train_time, epoch_time_s=time.perf_counter() - start
        )
        out.epochs.append(metrics)
        if on_epoch is not None and on_epoch(epoch, metrics) is False:
            break
    if save_to is not None:
        method.save_model(model, cfg, info, save_to)
        out.model_dir = save_to
    return out
