"""train_loop_per_worker: the one epoch loop, run by every Ray Train worker of a trial.

The method supplies data, model, optimisers, step and evaluation; this loop owns
seeding, threads, devices (GPU when Ray Train gives one), DDP through Ray Train,
cross-rank reduction of metrics and the per-epoch report that ASHA acts on.
Heavy imports stay inside the function: this module is imported by trial actors too.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from adaptune.domains import summaries
from adaptune.method import test_name
from adaptune.train import report as rk


def _reduce(metrics: dict[str, float], world_size: int) -> dict[str, float]:
    """Mean over ranks (TuneReportCallback forwards rank 0's dict only)."""
    if world_size == 1:
        return metrics
    import torch
    import torch.distributed as dist

    keys = sorted(metrics)
    t = torch.tensor([metrics[k] for k in keys], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return {k: float(v) / world_size for k, v in zip(keys, t.tolist(), strict=True)}


# Steps between finiteness checks of the running loss: a check waits for the GPU, so
# checking every step would stop the host from queueing the next step's kernels.
CHECK_EVERY = 32


def _check_finite(sums: dict[str, Any], steps: int) -> None:
    """FloatingPointError when the summed training loss went NaN/inf (a tensor or float)."""
    import math

    loss = sums.get("loss")
    if loss is not None and not math.isfinite(float(loss)):
        raise FloatingPointError(f"non-finite loss within the last {steps} steps")


def train_epoch(method: Any, model: Any, loader: Any, opt: Any, cfg: Any) -> dict[str, float]:
    """One pass over the training batches: the mean of each step log, as train/<key>.
    Step logs may be device tensors: summed where they live, read once at the end; the
    loss is checked every CHECK_EVERY steps and at the end (FloatingPointError). An epoch
    without a single step is an error: a trial that trains nothing must not "complete"."""
    from collections import defaultdict

    sums: dict[str, Any] = defaultdict(float)
    steps = 0
    for batch in loader:
        for k, v in method.train_step(model, batch, opt, cfg).items():
            sums[k] = sums[k] + v
        steps += 1
        if steps % CHECK_EVERY == 0:
            _check_finite(sums, CHECK_EVERY)
    if steps == 0:
        raise ValueError(
            "the training epoch had no batch: the train split is smaller than one batch "
            f"(batch_size {getattr(cfg, 'batch_size', '?')}, incomplete batches are dropped)"
        )
    _check_finite(sums, steps % CHECK_EVERY or CHECK_EVERY)
    return {f"train/{k}" if "/" not in k else k: float(v) / steps for k, v in sums.items()}


def train_batches(method: Any, ds: Any, cfg: Any, generator: Any, rank: int, world: int) -> Any:
    """The method's train_loader, else shuffled batches of cfg.batch_size (incomplete ones
    dropped), which the worker shards by a DistributedSampler (prepare_data_loader)."""
    if method.train_loader is not None:
        return method.train_loader(ds, cfg, generator, rank, world)
    from torch.utils.data import DataLoader

    return DataLoader(
        ds, batch_size=cfg.batch_size, shuffle=True, drop_last=True, generator=generator
    )


def score_test(method: Any, model: Any, loader: Any, cfg: Any) -> dict[str, float]:
    """The method's metrics on the test split, named test/<name>, from evaluate_test when
    the method has one (evaluate may act on what it measures), else evaluate."""
    score = method.evaluate_test or method.evaluate
    out = {test_name(k): float(v) for k, v in score(model, loader, cfg).items()}
    return {**out, **summaries(out, method.metric, method.mode)}


def use_compile_cache(folder: str | None) -> None:
    """Point Inductor's caches (FX graphs, AOTAutograd, kernels) and Triton's at the
    search's folder, before anything compiles: every trial of the search on this node,
    in this process or another, reads what the first one compiled. Set on each trial, not
    once: Tune reuses a trial actor, and torch fills in its own default when unset."""
    if not folder:
        return
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder
    os.environ["TRITON_CACHE_DIR"] = os.path.join(folder, "triton")


def check_gpu(gpu: str, cuda: bool) -> None:
    """A trial that holds GPUs ("yes") needs CUDA on its node (else it would train on the
    CPU at a GPU's price); the test-only fake GPU ("fake", ADAPTUNE_FAKE_GPU=1) is refused
    where CUDA is real."""
    node = os.uname().nodename
    if gpu == "yes" and not cuda:
        raise RuntimeError(
            f"this trial holds a GPU but torch finds no CUDA device on {node} (check its "
            "driver); ADAPTUNE_FAKE_GPU=1 is only for tests on nodes with no GPU"
        )
    if gpu == "fake" and cuda:
        raise RuntimeError(
            f"ADAPTUNE_FAKE_GPU=1 is a test-only switch (trains on the CPU), but {node} has "
            "CUDA: unset it"
        )


def train_loop_per_worker(config: dict[str, Any]) -> None:
    import random
    import tempfile

    import numpy as np
    import ray
    import torch
    from torch.utils.data import DataLoader

    from adaptune.job.spec import DataSpec
    from adaptune.method import MODEL_METADATA, make_config
    from adaptune.methods import get_method, register_method
    from adaptune.train.checkpoint import STATE_FILE, frozen_at_build, load_state, save_state
    from adaptune.train.local_trial import train_api

    use_compile_cache(config.get("compile_cache"))
    check_gpu(config.get("gpu", ""), torch.cuda.is_available())
    if config.get("registered") is not None:  # the driver's notebook method, shipped here
        register_method(config["registered"], replace=True)
    method = get_method(config["method"])
    cfg = make_config(method, config["params"])
    train = train_api(config)  # ray.train, or its stand-in in a Tune trial actor
    ctx = train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(max(1, int(config.get("threads", 1))))
    random.seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)
    torch.manual_seed(cfg.seed)

    train_ds, val_ds, test_ds, info = method.build_data(
        cfg, DataSpec.model_validate(config["data"]), config.get("cache_dir")
    )
    model = train.prepare_model(method.build_model(cfg, info))
    frozen = frozen_at_build(model)  # rebuilt exactly on a restart: not checkpointed
    generator = torch.Generator().manual_seed(cfg.seed)
    train_loader = train.prepare_data_loader(
        train_batches(method, train_ds, cfg, generator, rank, world),
        add_dist_sampler=method.train_loader is None,  # the method's own shards itself
    )
    # Every rank scores the whole validation set, so the metrics are exact, not averaged;
    # a split read from files names its DataLoader's workers (Splits: loader_options).
    val_loader, test_loader = (
        train.prepare_data_loader(
            DataLoader(ds, batch_size=cfg.batch_size * 4, **getattr(ds, "loader_options", {})),
            add_dist_sampler=False,
        )
        for ds in (val_ds, test_ds)
    )
    opt = method.build_optimizers(model, cfg, len(train_loader) * cfg.epochs)
    first = 1
    restart = train.get_checkpoint()  # set when the worker group was restarted
    if restart is not None:
        with restart.as_directory() as saved:
            if Path(saved, STATE_FILE).exists():
                first = load_state(saved, model, opt, generator, frozen) + 1

    for epoch in range(first, cfg.epochs + 1):
        set_epoch = getattr(getattr(train_loader, "sampler", None), "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)
        start = time.perf_counter()
        metrics = train_epoch(method, model, train_loader, opt, cfg)
        train_time = time.perf_counter() - start
        metrics.update(method.evaluate(model, val_loader, cfg))
        metrics.update(summaries(metrics, method.metric, method.mode))  # worst domain, mean
        if epoch == cfg.epochs:  # the finished model scores test once, after val: an
            # evaluate may keep state for save_model (DAMA's Algorithm 1 step), and test
            # must score the model that is saved; only the chosen trial's are read
            metrics.update(score_test(method, model, test_loader, cfg))
        report: dict[str, Any] = _reduce(metrics, world)
        report.update(
            {
                rk.EPOCH: epoch,
                rk.EPOCHS: cfg.epochs,
                rk.TRAIN_TIME_S: train_time,
                rk.EPOCH_TIME_S: time.perf_counter() - start,
                rk.WORLD_SIZE: world,
                rk.NODE_ID: ray.get_runtime_context().get_node_id(),
            }
        )
        if method.step_series is not None:
            report[rk.STEP_SERIES] = method.step_series(model)
        # Every epoch ends in a checkpoint (rank 0 writes it): the training state to go on
        # from after a failure, or after the last epoch the model itself.
        with tempfile.TemporaryDirectory() as tmp:
            if rank == 0 and epoch == cfg.epochs:
                method.save_model(model, cfg, info, tmp)
                Path(tmp, MODEL_METADATA).write_text(json.dumps({"method": method.name}))
            elif rank == 0:
                save_state(tmp, model, opt, epoch, generator, frozen)
            checkpoint = train.Checkpoint.from_directory(tmp) if rank == 0 else None
            train.report(report, checkpoint=checkpoint)
