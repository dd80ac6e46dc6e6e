"""Per-trial overhead: trial wall time minus in-loop training time, our search vs a plain
in-process Optuna loop on the same trainer.

    python benchmarks/trial_overhead.py [--trials 10] [--rounds 1] [--compare DIR ...]

One tiny DAO job (MiniLM-L6 + LoRA r4, 64 examples, 16 tokens, 2 epochs, TPE over lr,
no early stopping, one trial at a time) is run by

- `optuna`: ask -> train_in_process (benchmarks/inproc.py: the worker's loop, no Ray)
  -> tell, in this process; trial wall = ask to tell;
- `adaptune` (and every --compare DIR: another copy of the ``adaptune`` package, e.g.
  an older commit's ``platform/``, put first on PYTHONPATH): ``adaptune search`` in a
  subprocess; from its MLflow store, per trial run: `run` = run start to end (the
  callback's on_trial_start to its final status, model logging included) and `cycle` =
  end of the previous trial's run to the end of this one (adds Tune's gap between
  trials: the next trial actor's start), each minus the sum of the run's epoch_time_s.

In-loop time is the epochs' train + evaluation time (epoch_time_s), identical in all
variants. Variants alternate round by round (`--rounds`), so load on a shared machine
hits all alike. Prints one JSON object with medians over the trials (the first
trial of each search left out of `cycle`: it has no previous trial).
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

from tunesim import environment

HERE = Path(__file__).resolve().parent
SPACE = {"lr": {"type": "float", "low": 1.0e-5, "high": 1.0e-3, "log": True}}


def job_yaml(trials: int, epochs: int, n_train: int, worker_group: str | None) -> str:
    group = f", worker_group: {worker_group}" if worker_group else ""
    return f"""\
name: overhead
method: dao
data: {{source: synthetic-finsent, n_train: {n_train}, seed: 0}}
fixed: {{epochs: {epochs}, max_len: 16, batch_size: 8, warmup_steps: 2, lora_rank: 4}}
search:
  space: space.yaml
  sampler: tpe
  num_samples: {trials}
  metric: val/mse
  mode: min
  scheduler: {{type: fifo}}
  max_concurrent: 1
  seed: 0
resources: {{workers_per_trial: 1, cpus_per_worker: 1{group}}}
promote: {{enabled: false}}
"""


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 2) if xs else None


def run_adaptune(
    code: str | None, worker_group: str | None, args: argparse.Namespace, root: Path
) -> dict[str, Any]:
    import mlflow

    root.mkdir(parents=True)
    (root / "space.yaml").write_text(json.dumps(SPACE))
    (root / "job.yaml").write_text(job_yaml(args.trials, args.epochs, args.n_train, worker_group))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if code:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "adaptune", "--state-dir", str(root / "state"), "search"]
    started = time.monotonic()
    proc = subprocess.run(
        [*cmd, str(root / "job.yaml"), "--json", str(root / "s.json")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"search failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    summary = json.loads((root / "s.json").read_text())
    client = mlflow.MlflowClient(summary["tracking_uri"])
    parent = client.get_run(summary["parent_run_id"])
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    trials = []
    for run in sorted(runs, key=lambda r: r.info.start_time):
        in_loop = sum(m.value for m in client.get_metric_history(run.info.run_id, "epoch_time_s"))
        trials.append(
            {
                "start": run.info.start_time / 1e3,
                "end": run.info.end_time / 1e3,
                "in_loop_s": in_loop,
            }
        )
    prev_end = None
    for t in trials:
        t["run_s"] = t["end"] - t["start"]
        t["overhead_run_s"] = t["run_s"] - t["in_loop_s"]
        if prev_end is not None:
            t["overhead_cycle_s"] = t["end"] - prev_end - t["in_loop_s"]
        prev_end = t["end"]
    return {
        "code": code or "this checkout",
        "worker_group": worker_group or "default",
        "search_wall_s": round(wall, 1),
        "trials": len(trials),
        "median_in_loop_s": _median([t["in_loop_s"] for t in trials]),
        "median_overhead_run_s": _median([t["overhead_run_s"] for t in trials]),
        "median_overhead_cycle_s": _median(
            [t["overhead_cycle_s"] for t in trials if "overhead_cycle_s" in t]
        ),
        "overhead_cycle_s": [
            round(t["overhead_cycle_s"], 2) if "overhead_cycle_s" in t else None for t in trials
        ],
    }


def run_optuna(args: argparse.Namespace, cache_dir: str) -> dict[str, Any]:
    import optuna

    from adaptune.job.space import load_space
    from inproc import train_in_process

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        json.dump(SPACE, f)
        f.flush()
        space = load_space(f.name)
    fixed = {"epochs": args.epochs, "max_len": 16, "batch_size": 8, "warmup_steps": 2}
    data = {"source": "synthetic-finsent", "n_train": args.n_train, "seed": 0}
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=0))
    trials = []
    started = time.monotonic()
    for _ in range(args.trials):
        t0 = time.monotonic()
        trial = study.ask(space)
        curve = train_in_process("dao", {**fixed, "lora_rank": 4, **trial.params}, data, cache_dir)
        study.tell(trial, curve.epochs[-1]["val/mse"])
        wall = time.monotonic() - t0
        in_loop = sum(e["epoch_time_s"] for e in curve.epochs)
        trials.append({"wall_s": wall, "in_loop_s": in_loop, "overhead_s": wall - in_loop})
    return {
        "search_wall_s": round(time.monotonic() - started, 1),
        "trials": len(trials),
        "median_in_loop_s": _median([t["in_loop_s"] for t in trials]),
        "median_overhead_s": _median([t["overhead_s"] for t in trials]),
        "overhead_s": [round(t["overhead_s"], 2) for t in trials],
    }


def _checkout(rev: str, where: Path) -> str:
    """The adaptune package of commit `rev` (its platform/ folder), for --compare-git."""
    where.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", rev, "platform"], cwd=HERE.parent, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    return str(where / "platform")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--n-train", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--compare", nargs="*", default=[], help="other adaptune package roots")
    ap.add_argument(
        "--compare-git", nargs="*", default=[], help="commits whose platform/ to compare"
    )
    ap.add_argument(
        "--worker-group-too",
        action="store_true",
        help="also this checkout with resources.worker_group: always",
    )
    ap.add_argument("--no-optuna", action="store_true")
    args = ap.parse_args()
    variants: list[tuple[str, str | None, str | None]] = [("adaptune", None, None)]
    if args.worker_group_too:
        variants.append(("adaptune worker_group=always", None, "always"))
    variants += [(code, code, None) for code in args.compare]
    out: dict[str, Any] = {"optuna": []}
    with tempfile.TemporaryDirectory(prefix="adaptune-overhead-") as tmp:
        for rev in args.compare_git:
            variants.append((f"git {rev}", _checkout(rev, Path(tmp, f"git-{rev}")), None))
        out.update({label: [] for label, _, _ in variants})
        cache = str(Path(tmp) / "cache")
        for r in range(args.rounds):
            if not args.no_optuna:
                out["optuna"].append(run_optuna(args, cache))
            for i, (label, code, group) in enumerate(variants[::-1] if r % 2 else variants):
                root = Path(tmp) / f"r{r}-v{i}"
                out[label].append(run_adaptune(code, group, args, root))
    print(
        json.dumps(
            {
                "benchmark": "trial_overhead",
                **environment(),
                "job": {
                    "method": "dao",
                    "n_train": args.n_train,
                    "epochs": args.epochs,
                    "trials": args.trials,
                    "max_concurrent": 1,
                },
                "results": {k: v for k, v in out.items() if v},
                "goal_median_overhead_s": 10.0,
            }
        )
    )


if __name__ == "__main__":
    main()
