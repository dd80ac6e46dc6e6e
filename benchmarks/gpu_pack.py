"""Small trials packed on one GPU, and the compile cache shared by a search's trials.

    python benchmarks/gpu_pack.py [--per-gpu 1 2 4 8] [--methods dao dama] [--rounds 2]
    python benchmarks/gpu_pack.py --plan-only      # the jobs and their placement, no GPU

Packing: for each method and k trials per GPU, a real search (``run_search`` in this
process, one Ray cluster for all) of k x rounds trials, FIFO, ``gpus_per_worker: 1/k`` so
that Ray's fractional scheduling runs k trials at a time on each GPU
(``max_concurrent: auto``). From the MLflow trial runs: the span from the first trial's
start to the last one's end, trials per hour, padded tokens per second over that span
(train examples x max_len x epochs per trial) and the median in-loop time per epoch.
DAO trains MiniLM-L6 + LoRA (the shipped encoder), DAMA the xLSTM (its CUDA sLSTM kernel
on a GPU). The knee is where aggregate tokens/s stops growing with k.

Compile: DAO with ``compile: true`` in fresh processes that share one cache folder
(``use_compile_cache``, as the trials of one search do on a node): the first step
(compilation included) against the median later step. The first process is the search's
first trial (cold folder), the second is a later trial (warm folder).

Without CUDA it prints {"benchmark": "gpu_pack", "skipped": ...}, says why on stderr and
exits 0 (``make bench`` runs it only where a GPU is present). Prints one JSON object;
``--out FILE`` writes it there too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SPACES = {
    "dao": "lr: {type: float, low: 5.0e-5, high: 5.0e-4, log: true}\n",
    "dama": "lr: {type: float, low: 3.0e-4, high: 3.0e-3, log: true}\n",
}
DATA = {
    "dao": "{source: synthetic-finsent, n_train: %d, seed: 0}",
    "dama": "{source: synthetic-multidomain, n_train: %d, seed: 0}",
}
FIXED = {  # max_len is what the padded-token count uses
    "dao": {"epochs": 2, "max_len": 128, "batch_size": 32, "warmup_steps": 10},
    "dama": {"epochs": 2, "max_len": 32, "batch_size": 32, "stage": 1},
}


def job_text(method: str, k: int, args: argparse.Namespace) -> str:
    fixed = ", ".join(f"{key}: {v}" for key, v in FIXED[method].items())
    return f"""\
name: pack-{method}-{k}
method: {method}
data: {DATA[method] % args.n_train[method]}
fixed: {{{fixed}}}
search:
  space: space-{method}.yaml
  sampler: random
  num_samples: {k * args.rounds}
  scheduler: {{type: fifo}}
  max_concurrent: auto
  seed: 0
resources: {{workers_per_trial: 1, use_gpu: true, cpus_per_worker: {args.cpus_per_trial:g},
            gpus_per_worker: {1 / k:.4g}}}
tracking: {{experiment: gpu-pack}}
promote: {{enabled: false}}
"""


ONE_GPU = {"CPU": 16.0, "GPU": 1.0}


def plan_for(method: str, k: int, args: argparse.Namespace, root: Path) -> Any:
    from adaptune.job.spec import load_job
    from adaptune.plan import make_plans

    (root / f"space-{method}.yaml").write_text(SPACES[method])
    path = root / f"pack-{method}-{k}.yaml"
    path.write_text(job_text(method, k, args))
    return make_plans(load_job(str(path)), cluster=ONE_GPU)[0]


def train_examples(plan: Any, state: Path) -> int:
    from adaptune.job.spec import DataSpec
    from adaptune.method import make_config

    cfg = make_config(plan.method, dict(plan.job.fixed))
    spec = DataSpec.model_validate(plan.job.data.model_dump())
    return len(plan.method.build_data(cfg, spec, str(state / "cache" / plan.method.name))[0])


def pack(method: str, k: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """One search of k x rounds trials at k per GPU; its aggregate throughput."""
    import mlflow

    from adaptune.driver.run import run_search
    from adaptune.driver.tuner import placement_for

    plan = plan_for(method, k, args, root)
    state = root / "state"
    summary = run_search(plan, state, promote=False)
    client = mlflow.MlflowClient(summary.tracking_uri)
    parent = client.get_run(summary.parent_run_id)
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    starts = [r.info.start_time / 1e3 for r in runs]
    ends = [r.info.end_time / 1e3 for r in runs if r.info.end_time]
    epochs = [
        m.value for r in runs for m in client.get_metric_history(r.info.run_id, "epoch_time_s")
    ]
    span = max(ends) - min(starts)
    fixed = FIXED[method]
    tokens = len(ends) * train_examples(plan, state) * fixed["max_len"] * fixed["epochs"]
    import ray

    cluster = {key: float(v) for key, v in ray.cluster_resources().items()}
    return {
        "trials_per_gpu": k,
        "max_concurrent": placement_for(plan, cluster).max_concurrent,
        "trials": len(ends),
        "completed": summary.completed,
        "span_s": round(span, 1),
        "trials_per_hour": round(len(ends) / span * 3600, 1),
        "tokens_per_s": round(tokens / span),
        "median_epoch_s": round(statistics.median(epochs), 2) if epochs else None,
    }


COMPILE_CHILD = """
import json, statistics, sys, time
import torch
from adaptune.methods import get_method
from adaptune.methods.dao.config import DAOConfig
from adaptune.train.worker import use_compile_cache

use_compile_cache(sys.argv[1])
steps, batch, seq = int(sys.argv[2]), 32, 128
cfg = DAOConfig(compile=True, max_len=seq, batch_size=batch)
method = get_method("dao")
torch.manual_seed(0)
model = method.build_model(cfg, {"class_counts": [1] * 5}).cuda()
opt = method.build_optimizers(model, cfg, 10**6)
g = torch.Generator().manual_seed(1)
data = [(torch.randint(3, 30000, (batch, seq), generator=g).cuda(),
         torch.ones(batch, seq, dtype=torch.long).cuda(),
         (torch.rand(batch, generator=g) * 2 - 1).cuda()) for _ in range(4)]
times = []
for i in range(steps):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    float(method.train_step(model, data[i % 4], opt, cfg)["loss"])
    times.append(time.perf_counter() - t0)
later = statistics.median(times[2:])
print(json.dumps({"first_step_s": times[0], "step_ms": later * 1e3,
                  "compile_s": times[0] - later}))
"""


def compile_cache(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """The first and a later trial of one search, each a fresh process: compile time."""
    folder = root / "compile" / "search"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "platform")}
    out: dict[str, Any] = {}
    for label in ("first_trial", "second_trial"):
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-c", COMPILE_CHILD, str(folder), str(args.compile_steps)],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"compile child failed:\n{proc.stderr[-3000:]}")
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        got["process_s"] = time.monotonic() - started
        out[label] = {key: round(v, 2) for key, v in got.items()}
    out["second_vs_first_compile"] = round(
        out["second_trial"]["compile_s"] / max(out["first_trial"]["compile_s"], 1e-9), 3
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-gpu", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--methods", nargs="+", default=["dao", "dama"], choices=sorted(SPACES))
    ap.add_argument("--rounds", type=int, default=2, help="trials = k x rounds per search")
    ap.add_argument("--dao-n-train", type=int, default=4000)
    ap.add_argument("--dama-n-train", type=int, default=3200)
    ap.add_argument("--cpus-per-trial", type=float, default=1.0)
    ap.add_argument("--compile-steps", type=int, default=8)
    ap.add_argument("--no-compile", action="store_true", help="skip the compile-cache part")
    ap.add_argument("--plan-only", action="store_true", help="check the jobs, run nothing")
    ap.add_argument("--out")
    args = ap.parse_args()
    args.n_train = {"dao": args.dao_n_train, "dama": args.dama_n_train}
    result: dict[str, Any] = {"benchmark": "gpu_pack"}
    with tempfile.TemporaryDirectory(prefix="adaptune-pack-") as tmp:
        if args.plan_only:  # on one GPU and 16 CPUs, as the H100/H200 machines have
            from adaptune.driver.tuner import placement_for

            result["plans"] = {}
            for m in args.methods:
                for k in args.per_gpu:
                    placed = placement_for(plan_for(m, k, args, Path(tmp)), ONE_GPU)
                    result["plans"][f"{m} x{k}"] = {
                        "per_trial": placed.per_trial,
                        "max_concurrent": placed.max_concurrent,
                    }
            return _emit(result, args.out)
        import torch

        if not torch.cuda.is_available():
            result["skipped"] = "no CUDA device: gpu_pack.py measures on a GPU only"
            print(f"gpu_pack.py: skipped, {result['skipped']}", file=sys.stderr)
            return _emit(result, args.out)
        from adaptune.driver.tuner import init_ray
        from tunesim import environment

        result.update(environment(), device=torch.cuda.get_device_name(0))
        init_ray(None, verbose=False)  # one cluster for every search
        result["pack"] = {
            m: [pack(m, k, args, Path(tmp, f"{m}-{k}")) for k in args.per_gpu] for m in args.methods
        }
        for rows in result["pack"].values():
            best = max(rows, key=lambda r: r["tokens_per_s"])
            base = rows[0]["tokens_per_s"]
            for r in rows:
                r["vs_first"] = round(r["tokens_per_s"] / base, 2)
            best["best"] = True
        if not args.no_compile:
            result["compile"] = compile_cache(args, Path(tmp))
    return _emit(result, args.out)


def _emit(result: dict[str, Any], out: str | None) -> None:
    text = json.dumps(result)
    if out:
        Path(out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
