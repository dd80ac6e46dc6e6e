"""DAMA's xLSTM training step: stage 1 (base, L_s + γL_d) and stage 2 (λ modulation).

    python benchmarks/dama_step.py [--device cuda] [--backend auto|vanilla|cuda] [--steps 20]

Builds synthetic-multidomain data (16 domains), a stage-1 model, saves it, and a
stage-2 model from that save; times the median `train_step` of each with the same
batches. Prints one JSON object. The sLSTM "cuda" backend compiles its kernel on first
use (nvcc + ninja), which is timed separately as build_s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from typing import Any

import torch
from torch.utils.data import DataLoader

from adaptune.job.spec import DataSpec
from adaptune.methods import get_method
from adaptune.methods.dama.config import DAMAConfig


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(cfg: DAMAConfig, info: dict[str, Any], batches: list[Any], args: Any) -> Any:
    method = get_method("dama")
    device = torch.device(args.device)
    t0 = time.perf_counter()
    model = method.build_model(cfg, info).to(device)
    build = time.perf_counter() - t0
    opt = method.build_optimizers(model, cfg, 10**6)
    times = []
    for i in range(args.warmup + args.steps):
        batch = tuple(t.to(device) for t in batches[i % len(batches)])
        _sync(device)
        t0 = time.perf_counter()
        method.train_step(model, batch, opt, cfg)
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    return model, {"step_ms": round(statistics.median(times) * 1e3, 2), "build_s": round(build, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--backend", default="auto", choices=["auto", "vanilla", "cuda"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    method = get_method("dama")
    cfg1 = DAMAConfig(stage=1, batch_size=args.batch, slstm_backend=args.backend)
    data = DataSpec(source="synthetic-multidomain", n_train=args.batch * 8 * 16 // 16, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        train, _, _, info = method.build_data(cfg1, data, f"{tmp}/cache")
        batches = list(DataLoader(train, batch_size=args.batch, shuffle=True, drop_last=True))
        model, stage1 = time_steps(cfg1, info, batches, args)
        method.save_model(model, cfg1, info, f"{tmp}/s1")
        cfg2 = dataclasses.replace(cfg1, stage=2, init_from=f"{tmp}/s1")
        _, stage2 = time_steps(cfg2, info, batches, args)
    print(
        json.dumps(
            {
                "benchmark": "dama_step",
                "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
                "backend": args.backend,
                "threads": args.threads,
                "batch": args.batch,
                "max_len": cfg1.max_len,
                "stage1": stage1,
                "stage2": stage2,
            }
        )
    )


if __name__ == "__main__":
    main()
