"""DAO weighting vs constant weighting: step time on the same model, batch and device.

    python benchmarks/dao_step.py [--steps 30] [--batch 16] [--max-len 64] [--device cpu]

Both models start from the same weights and see the same batches; timing blocks
alternate between the two so drift on a shared machine hits both alike. Prints one
JSON object; its last field is the ratio (goal <= 1.10; the paper's DAO run took
1.62x the constant-weight run).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from adaptune.job.spec import DataSpec
from adaptune.methods import get_method
from adaptune.methods.dao.config import DAOConfig


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    method = get_method("dao")
    base = DAOConfig(
        max_len=args.max_len, batch_size=args.batch, lora_rank=args.lora_rank, warmup_steps=0
    )
    data, _, _, info = method.build_data(
        base, DataSpec(source="synthetic-finsent", n_train=args.batch * 8), None
    )
    batches = [
        tuple(t.to(device) for t in data[i * args.batch : (i + 1) * args.batch])
        for i in range(len(data) // args.batch)
    ]
    runs = {}
    for weighting in ("constant", "dao"):
        cfg = DAOConfig(**{**base.__dict__, "weighting": weighting})
        torch.manual_seed(0)
        model = method.build_model(cfg, info).to(device)
        runs[weighting] = (model, method.build_optimizers(model, cfg, 10**6), cfg)
    times: dict[str, list[float]] = {"constant": [], "dao": []}
    for block in range(args.warmup + args.steps):
        for weighting, (model, opt, cfg) in runs.items():
            batch = batches[block % len(batches)]
            _sync(device)
            start = time.perf_counter()
            method.train_step(model, batch, opt, cfg)
            _sync(device)
            if block >= args.warmup:
                times[weighting].append(time.perf_counter() - start)
    const, dao = (statistics.median(times[k]) for k in ("constant", "dao"))
    print(
        json.dumps(
            {
                "benchmark": "dao_step",
                "device": torch.cuda.get_device_name()
                if device.type == "cuda"
                else platform.processor() or "cpu",
                "threads": args.threads,
                "batch": args.batch,
                "max_len": args.max_len,
                "lora_rank": args.lora_rank,
                "steps": args.steps,
                "torch": torch.__version__,
                "constant_step_s": round(const, 5),
                "dao_step_s": round(dao, 5),
                "dao_over_constant": round(dao / const, 4),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
