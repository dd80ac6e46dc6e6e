"""DAO training throughput: tokens/s and model FLOP utilisation, bare loop vs Ray Train.

    python benchmarks/gpu_throughput.py [--size large] [--batch 10] [--seq 512] [--ray]

The encoder is RoBERTa-large-sized, built from its config with random weights (nothing
is downloaded). Every variant runs DAO's own `train_step` (bf16 autocast on CUDA):

* the variants table: full fine-tuning vs PEFT LoRA at several ranks, SDPA vs eager
  attention, LoRA dropout on/off, and `torch.compile`, each in a plain loop;
* with --ray: the default DAO config inside a Ray Train worker (TorchTrainer, one GPU,
  `prepare_model`), bracketed by the same config in the plain loop before and after,
  so drift on the machine shows. The ratio is Ray / mean(bare before, bare after).

Model FLOPs per token: 6N + 12·L·s·d for full fine-tuning, 4N + 12·L·s·d for LoRA (the
frozen weights need no weight gradients), N = encoder parameters without embeddings.
MFU divides by the card's dense bf16 peak. Prints JSON lines, then one summary object;
`--out FILE` also writes the summary there. CPU runs work (use --size tiny) for a smoke.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from adaptune.methods import get_method
from adaptune.methods.dao.config import DAOConfig

SIZES = {  # RoBERTa-large; tiny = a CPU smoke
    "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
              "intermediate_size": 4096, "vocab_size": 50265},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "vocab_size": 50265},
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 128, "vocab_size": 1000},
}  # fmt: skip
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "A10G": 70e12, "L4": 121e12}


def make_backbone(size: str, seq: int, directory: Path) -> dict[str, int]:
    from transformers import RobertaConfig, RobertaModel

    dims = SIZES[size]
    torch.manual_seed(0)
    config = RobertaConfig(**dims, max_position_embeddings=seq + 2, type_vocab_size=1)
    RobertaModel(config, add_pooling_layer=False).save_pretrained(directory)
    return dims


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def flops_per_token(model: torch.nn.Module, dims: dict[str, int], seq: int, lora: bool) -> float:
    enc = [p for n, p in model.named_parameters() if "embeddings" not in n]
    n = sum(p.numel() for p in enc)
    attention = 12 * dims["num_hidden_layers"] * seq * dims["hidden_size"]
    return (4 if lora else 6) * n + attention


def batches(dims: dict[str, int], batch: int, seq: int, device: torch.device) -> list[Any]:
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(4):
        ids = torch.randint(3, dims["vocab_size"], (batch, seq), generator=g)
        mask = torch.ones(batch, seq, dtype=torch.long)
        y = torch.rand(batch, generator=g) * 2 - 1
        out.append((ids.to(device), mask.to(device), y.to(device)))
    return out


def measure(
    cfg: DAOConfig,
    dims: dict[str, int],
    seq: int,
    steps: int,
    warmup: int,
    device: torch.device,
    tweaks: tuple[str, ...] = (),
    in_ray: bool = False,
) -> dict[str, Any]:
    """Median step time of DAO's train_step on random tokens; tokens/s and MFU from it."""
    method = get_method("dao")
    torch.manual_seed(0)
    model = method.build_model(cfg, {"class_counts": [1] * 5})
    if in_ray:
        import ray.train.torch

        model = ray.train.torch.prepare_model(model)
    else:
        model = model.to(device)
    inner = getattr(model, "module", model)
    apply_tweaks(inner, tweaks)
    opt = method.build_optimizers(model, cfg, 10**6)
    data = batches(dims, cfg.batch_size, seq, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    start_all = time.perf_counter()
    for i in range(warmup + steps):
        _sync(device)
        t0 = time.perf_counter()
        logs = method.train_step(model, data[i % len(data)], opt, cfg)
        float(logs["loss"])  # what a per-step read would cost: included, like a real loop
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    tokens = cfg.batch_size * seq
    fpt = flops_per_token(inner.encoder, dims, seq, cfg.lora_rank > 0)
    peak = peak_flops(device)
    return {
        "step_ms": round(step * 1e3, 2),
        "tok_per_s": round(tokens / step),
        "mfu": round(fpt * tokens / step / peak, 4) if peak else None,
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "peak_mem_gb": round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        if device.type == "cuda"
        else None,
        "wall_s": round(time.perf_counter() - start_all, 1),
    }


def apply_tweaks(model: Any, tweaks: tuple[str, ...]) -> None:
    """Ways to speed LoRA up, tried side by side: no_input_cast stops PEFT casting each
    adapter input to the adapter's fp32 (autocast picks the dtype instead); bf16_base
    stores the frozen weights in bf16 (no per-step weight casts); compile = torch.compile."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    if "no_input_cast" in tweaks:
        for m in model.encoder.modules():
            if isinstance(m, BaseTunerLayer):
                m.cast_input_dtype_enabled = False
    if "bf16_base" in tweaks:
        for p in model.encoder.parameters():
            if not p.requires_grad:
                p.data = p.data.to(torch.bfloat16)
    if "compile" in tweaks:
        model.encoder = torch.compile(model.encoder)


def profile(cfg: DAOConfig, dims: dict[str, int], args: argparse.Namespace, path: Path) -> None:
    """The top CUDA and CPU ops of a few steps, to see where the time goes."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    device = torch.device("cuda")
    method = get_method("dao")
    model = method.build_model(cfg, {"class_counts": [1] * 5}).to(device)
    opt = method.build_optimizers(model, cfg, 10**6)
    data = batches(dims, cfg.batch_size, args.seq, device)
    for i in range(3):
        method.train_step(model, data[i % 4], opt, cfg)
    torch.cuda.synchronize()
    with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for i in range(3):
            method.train_step(model, data[i % 4], opt, cfg)
        torch.cuda.synchronize()
    table = prof.key_averages()
    path.write_text(
        table.table(sort_by="self_cuda_time_total", row_limit=25)
        + "\n\n"
        + table.table(sort_by="self_cpu_time_total", row_limit=25)
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def variants(
    args: argparse.Namespace, backbone: str
) -> list[tuple[str, DAOConfig, tuple[str, ...]]]:
    def cfg(**kw: Any) -> DAOConfig:
        base = {"backbone": backbone, "max_len": args.seq, "batch_size": args.batch}
        return DAOConfig(**{**base, "warmup_steps": 0, "lora_dropout": 0.0, **kw})

    out = [
        ("full sdpa", cfg(lora_rank=0), ()),
        ("lora8 sdpa", cfg(lora_rank=8), ()),
        ("lora8 no_input_cast", cfg(lora_rank=8), ("no_input_cast",)),
        ("lora8 bf16_base", cfg(lora_rank=8), ("bf16_base",)),
        ("lora8 bf16_base no_input_cast", cfg(lora_rank=8), ("bf16_base", "no_input_cast")),
        ("lora64 bf16_base no_input_cast", cfg(lora_rank=64), ("bf16_base", "no_input_cast")),
        ("lora8 attn-only sdpa", cfg(lora_rank=8, lora_targets=("query", "key", "value")), ()),
        ("full eager-attn", cfg(lora_rank=0, attn_implementation="eager"), ()),
        ("lora8 eager-attn dropout0.05", cfg(lora_rank=8, lora_dropout=0.05,
                                              attn_implementation="eager"), ()),
        ("lora256 sdpa", cfg(lora_rank=256), ()),
        ("full sdpa b32", cfg(lora_rank=0, batch_size=32), ()),
        ("lora8 sdpa b32", cfg(lora_rank=8, batch_size=32), ()),
    ]  # fmt: skip
    if args.compile:
        out += [("lora8 compiled", cfg(lora_rank=8), ("compile",)),
                ("full sdpa compiled", cfg(lora_rank=0), ("compile",))]  # fmt: skip
    return out


def ray_measure(cfg: DAOConfig, dims: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    """measure() inside one Ray Train worker holding the GPU (or CPUs on a CPU machine)."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    def loop(config: dict[str, Any]) -> None:
        import ray.train
        import ray.train.torch

        torch.set_num_threads(config["threads"])
        device = ray.train.torch.get_device()
        row = measure(config["cfg"], dims, args.seq, args.steps, args.warmup, device, in_ray=True)
        Path(config["out"]).write_text(json.dumps(row))  # same machine: a file is enough
        ray.train.report(row)

    gpu = torch.cuda.is_available()
    out = Path(tempfile.mkdtemp(prefix="bench-ray-"), "row.json")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        trainer = TorchTrainer(
            loop,
            train_loop_config={"cfg": cfg, "threads": torch.get_num_threads(), "out": str(out)},
            scaling_config=ScalingConfig(
                num_workers=1,
                use_gpu=gpu,
                resources_per_worker={"CPU": 1, **({"GPU": 1} if gpu else {})},
            ),
            run_config=RunConfig(storage_path=str(out.parent)),
        )
        start = time.perf_counter()
        trainer.fit()
        row: dict[str, Any] = json.loads(out.read_text())
        return {**row, "fit_s": round(time.perf_counter() - start, 1)}
    finally:
        ray.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="large")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--only", default="", help="comma-separated variant names to run")
    ap.add_argument("--compile", action="store_true", help="add torch.compile variants")
    ap.add_argument("--ray", action="store_true", help="also measure inside a Ray Train worker")
    ap.add_argument("--no-variants", action="store_true")
    ap.add_argument("--profile", type=Path, help="write LoRA-r8 and full profiles here")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--budget-s", type=float, default=1e9, help="skip variants past this time")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    summary: dict[str, Any] = {
        "benchmark": "gpu_throughput",
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "size": args.size,
        "batch": args.batch,
        "seq": args.seq,
        "variants": {},
    }

    def emit(name: str, row: dict[str, Any]) -> None:
        summary["variants"][name] = row
        print(json.dumps({"variant": name, **row}), flush=True)
        if args.out:
            args.out.write_text(json.dumps(summary, indent=1))

    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        backbone = Path(tmp, "roberta")
        dims = make_backbone(args.size, args.seq, backbone)
        if args.ray:
            cfg = DAOConfig(backbone=str(backbone), max_len=args.seq, batch_size=args.batch,
                            warmup_steps=0)  # fmt: skip
            before = measure(cfg, dims, args.seq, args.steps, args.warmup, device)
            emit("default bare (before)", before)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            inside = ray_measure(cfg, dims, args)
            emit("default in Ray Train worker", inside)
            after = measure(cfg, dims, args.seq, args.steps, args.warmup, device)
            emit("default bare (after)", after)
            bare = (before["tok_per_s"] + after["tok_per_s"]) / 2
            summary["ray_vs_bare"] = round(inside["tok_per_s"] / bare, 3)
        if args.profile and device.type == "cuda":
            for name, rank in (("lora8", 8), ("full", 0)):
                pcfg = DAOConfig(
                    backbone=str(backbone),
                    max_len=args.seq,
                    batch_size=args.batch,
                    lora_rank=rank,
                    lora_dropout=0.0,
                )
                profile(pcfg, dims, args, args.profile / f"profile_{name}.txt")
                torch.cuda.empty_cache()
        chosen = {s.strip() for s in args.only.split(",") if s.strip()}
        if not args.no_variants:
            for name, cfg, tweaks in variants(args, str(backbone)):
                if chosen and name not in chosen:
                    continue
                if time.perf_counter() - t_start > args.budget_s:
                    emit(name, {"skipped": "over --budget-s"})
                    continue
                try:
                    row = measure(cfg, dims, args.seq, args.steps, args.warmup, device, tweaks)
                except Exception as e:  # one failing variant must not lose the others
                    row = {"error": f"{type(e).__name__}: {e}"[:300]}
                emit(name, row)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    print(json.dumps(summary), flush=True)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    sys.exit(main())
