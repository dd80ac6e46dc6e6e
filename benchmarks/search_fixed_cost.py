"""A search's fixed cost: command start to first trial start, plus last trial end to exit,
per phase, against a plain Optuna loop on the same trainer; and the CLI's light commands.

    python benchmarks/search_fixed_cost.py [--runs 3] [--cli-runs 5] [--compare-git REV ...]

- `adaptune`: ``adaptune search jobs/quickstart.yaml`` with 2 trials of 1 epoch on a small
  corpus (``--set`` overrides), in a subprocess with a fresh state folder each run (a first
  search: the data is tokenised, the MLflow store created); `adaptune, next search`: the
  same command again in that state folder (what a user iterating on a job waits for;
  ``--fresh-only`` leaves it out). Its ``--events`` stream gives
  the first ``trial_started`` and last ``trial_finished`` stamps and one ``phase`` event
  per step of the driver (driver/run.py, driver/finish.py); what the stream cannot see is
  derived from the stamps: `startup` = process start to the console's start (interpreter,
  CLI imports, the job's plan), `tune_to_first_trial` = the Tuner's start to the first
  trial's, `tune_wind_down` = the last trial's end to the Tuner's return,
  `summary_and_exit` = the search_finished event to the process's exit (the printed
  summary, Ray's shutdown at exit).
- every ``--compare-git REV`` (or ``--compare DIR``, a package root): the same, with that
  commit's ``platform/`` first on the path (its stream may lack phase events: totals
  only), interleaved run by run.
- `optuna`: the plain loop (``study.ask`` -> benchmarks/inproc.py's trainer -> ``tell``)
  in a subprocess: process start to the first ``ask``, last ``tell`` to exit (imports,
  data and the model's load happen inside its first trial, as a plain script does them).
- `cli`: wall time of ``adaptune methods`` and ``adaptune validate jobs/quickstart.yaml``,
  subprocesses, median of ``--cli-runs``.

Prints one JSON object; medians over the runs. Run it under
``flock /tmp/adaptune-integration.lock`` on a shared machine (it starts Ray).
"""

from __future__ import annotations

import argparse
import datetime as dt
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
ROOT = HERE.parent
JOB = ROOT / "jobs" / "quickstart.yaml"
# The phases the driver emits, in order (driver/run.py, driver/finish.py).
BEFORE_TRIALS = ("imports", "ray_start", "mlflow_store", "data", "search_run", "tuner")
AFTER_TRIALS = ("reruns", "mlflow_drain", "promotion", "report")


def _stamp(event: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(event["time"]).timestamp()


def _env(code: str | None) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    paths = [code or str(ROOT / "platform"), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def run_search(
    args: argparse.Namespace, root: Path, code: str | None, again: bool = False
) -> dict[str, Any]:
    """One search in a subprocess; its fixed cost and phases (seconds). `again`: in the
    state folder of the search just run in `root` (store, tokenised data: there)."""
    root.mkdir(parents=True, exist_ok=again)
    events = root / ("events-again.jsonl" if again else "events.jsonl")
    overrides = [
        f"search.num_samples={args.trials}",
        f"fixed.epochs={args.epochs}",
        f"fixed.max_len={args.max_len}",
        f"data.n_train={args.n_train}",
    ]
    cmd = [sys.executable, "-m", "adaptune", "--state-dir", str(root / "state"), "search"]
    cmd += [str(JOB), *(a for o in overrides for a in ("--set", o)), "--events", str(events)]
    started = time.time()
    proc = subprocess.run(cmd, cwd=root, env=_env(code), capture_output=True, text=True)
    ended = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"search failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return fixed_cost(
        [json.loads(line) for line in events.read_text().splitlines()], started, ended
    )


def fixed_cost(events: list[dict[str, Any]], started: float, ended: float) -> dict[str, Any]:
    """The fixed cost of one search from its event stream and its process's start and end."""
    first = min(_stamp(e) for e in events if e["event"] == "trial_started")
    last = max(_stamp(e) for e in events if e["event"] == "trial_finished")
    done = next(_stamp(e) for e in events if e["event"] == "search_finished")
    console_start = _stamp(events[0]) - events[0]["elapsed_s"]
    phases = {e["phase"]: e["s"] for e in events if e["event"] == "phase"}
    out: dict[str, Any] = {
        "fixed_s": (first - started) + (ended - last),
        "to_first_trial_s": first - started,
        "after_last_trial_s": ended - last,
        "wall_s": ended - started,
        "trials_s": last - first,
    }
    breakdown = {"startup": console_start - started}
    if phases:  # the search driver's own imports (MLflow, Ray, Optuna), before its first phase
        first_phase = next(e for e in events if e["event"] == "phase")
        breakdown["driver_imports"] = _stamp(first_phase) - first_phase["s"] - console_start
    fit = next((e for e in events if e["event"] == "phase" and e["phase"] == "fit"), None)
    if fit is not None:  # a stream with phase events
        fit_end = _stamp(fit)
        breakdown.update({k: phases[k] for k in BEFORE_TRIALS if k in phases})
        breakdown["tune_to_first_trial"] = first - (fit_end - fit["s"])
        breakdown["tune_wind_down"] = fit_end - last
        breakdown.update({k: phases[k] for k in AFTER_TRIALS if k in phases})
        named = sum(phases.get(k, 0.0) for k in ("mlflow_drain", "promotion", "report"))
        breakdown["finish_other"] = phases.get("finish", 0.0) - named
    breakdown["summary_and_exit"] = ended - done
    out["phases"] = breakdown
    return out


def optuna_child(args: argparse.Namespace) -> None:
    """The plain loop, as a user's script: prints its first ask and last tell stamps."""
    import optuna

    from adaptune.job.space import load_space
    from inproc import train_in_process

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(str(ROOT / "search_spaces" / "dao_quick.yaml"))
    fixed = {"epochs": args.epochs, "max_len": args.max_len, "batch_size": 16, "warmup_steps": 10}
    data = {"source": "synthetic-finsent", "n_train": args.n_train, "seed": 0}
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=0))
    first, setup = None, []
    for _ in range(args.trials):
        trial = study.ask(space)
        first = first or time.time()
        curve = train_in_process("dao", {**fixed, **trial.params}, data, args.cache)
        study.tell(trial, curve.epochs[-1]["val/mse"])
        setup.append(curve.setup_s)
    print(json.dumps({"first": first, "last": time.time(), "setup_s": setup}), flush=True)


def run_optuna(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    root.mkdir(parents=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--optuna-child"]
    cmd += ["--trials", str(args.trials), "--epochs", str(args.epochs)]
    cmd += ["--n-train", str(args.n_train), "--max-len", str(args.max_len)]
    cmd += ["--cache", str(root / "cache")]
    started = time.time()
    proc = subprocess.run(cmd, cwd=root, env=_env(None), capture_output=True, text=True)
    ended = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"optuna loop failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "fixed_s": (got["first"] - started) + (ended - got["last"]),
        "to_first_trial_s": got["first"] - started,
        "after_last_trial_s": ended - got["last"],
        "wall_s": ended - started,
        "first_trial_setup_s": got["setup_s"][0],  # imports, tokenising, the model's load
    }


def cli_times(runs: int) -> dict[str, Any]:
    """Wall time of the light commands, in subprocesses as a user runs them."""
    commands = {
        "methods": ["methods"],
        "validate": ["validate", str(JOB)],
    }
    out: dict[str, Any] = {}
    for name, argv in commands.items():
        walls = []
        for _ in range(runs):
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "adaptune", *argv],
                env=_env(None),
                capture_output=True,
                check=True,
            )
            walls.append(time.monotonic() - started)
        out[name] = {"median_s": round(statistics.median(walls), 3), "runs_s": _r(walls)}
    return out


def _r(xs: list[float]) -> list[float]:
    return [round(x, 2) for x in xs]


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every figure (and of every phase) over the runs."""
    keys = [k for k in runs[0] if isinstance(runs[0][k], int | float)]
    out: dict[str, Any] = {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
    out["runs_fixed_s"] = _r([r["fixed_s"] for r in runs])
    if "phases" in runs[0]:
        names = list(runs[0]["phases"])
        out["phases"] = {
            k: round(statistics.median(r["phases"].get(k, 0.0) for r in runs), 2) for k in names
        }
    return out


def _keep(
    args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]], label: str, run: dict[str, Any]
) -> None:
    """One run's figures; also appended to --log as they come (a long run's partial result)."""
    runs[label].append(run)
    if args.log:
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"variant": label, "load": os.getloadavg(), **run}) + "\n")


def _checkout(rev: str, where: Path) -> str:
    """The adaptune package of commit `rev` (its platform/ folder)."""
    where.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", rev, "platform"], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    return str(where / "platform")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="searches per variant (median)")
    ap.add_argument("--cli-runs", type=int, default=5)
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--max-len", type=int, default=32)
    ap.add_argument("--compare-git", nargs="*", default=[], help="commits whose platform/ to run")
    ap.add_argument("--compare", nargs="*", default=[], help="other adaptune package roots")
    ap.add_argument("--no-optuna", action="store_true")
    ap.add_argument("--log", help="also append each run's figures to this JSON-lines file")
    ap.add_argument(
        "--fresh-only", action="store_true", help="no second search in the same state folder"
    )
    ap.add_argument("--optuna-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.optuna_child:
        return optuna_child(args)
    load_before = os.getloadavg()
    out: dict[str, Any] = {"cli": cli_times(args.cli_runs)}
    with tempfile.TemporaryDirectory(prefix="adaptune-fixed-") as tmp:
        variants: list[tuple[str, str | None]] = [("adaptune", None)]
        variants += [(code, code) for code in args.compare]
        for rev in args.compare_git:
            variants.append((f"git {rev}", _checkout(rev, Path(tmp, f"git-{rev}"))))
        runs: dict[str, list[dict[str, Any]]] = {}
        for label, _ in variants:
            runs[label] = []
            if not args.fresh_only:
                runs[f"{label}, next search"] = []
        runs["optuna"] = []
        for r in range(args.runs):  # interleaved: load on a shared machine hits all alike
            for i, (label, code) in enumerate(variants[::-1] if r % 2 else variants):
                root = Path(tmp, f"r{r}-v{i}")
                _keep(args, runs, label, run_search(args, root, code))
                if not args.fresh_only:  # the same job again, as a user iterating does
                    _keep(args, runs, f"{label}, next search", run_search(args, root, code, True))
            if not args.no_optuna:
                _keep(args, runs, "optuna", run_optuna(args, Path(tmp, f"r{r}-optuna")))
    out.update({label: medians(rs) for label, rs in runs.items() if rs})
    print(
        json.dumps(
            {
                "benchmark": "search_fixed_cost",
                **environment(),
                "load_average": {"before": load_before, "after": os.getloadavg()},
                "job": {
                    "file": "jobs/quickstart.yaml",
                    "trials": args.trials,
                    "epochs": args.epochs,
                    "n_train": args.n_train,
                    "max_len": args.max_len,
                },
                "runs": args.runs,
                "results": out,
                "goal_fixed_s": 15.0,
                "goal_cli_s": 2.0,
            }
        )
    )


if __name__ == "__main__":
    main()
