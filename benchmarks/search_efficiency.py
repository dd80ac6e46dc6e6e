"""Search efficiency: the compute each sampler (and its options) with ASHA or median
stopping, and random search, needs to get within 1 % of a full grid's best, on small,
fully enumerable DAO and DAMA spaces.

    python benchmarks/search_efficiency.py [--methods dao dama] [--seeds 10]
        [--curves benchmarks/results/grid_curves.json] [--overhead-s 0] [--plot PNG]
        [--strategies "tpe+asha" "qmc+asha" ...]

1. Record: every config of the grid is trained once, in this process, with the search
   workers' own loop (inproc.py: same data, model, seeding, step and evaluation), and
   its per-epoch metric and epoch time are kept (--curves: reuse a recording; without
   it the grids are trained and the recording is written there).
   DAO: LoRA rank x lr x w_c (constant weighting), 4 epochs. DAMA: gamma grid x lambda
   bound grid (the paper's [0, 0.1] and {100, 500}); a config's curve is its stage-1
   epochs (gamma) followed by the stage-2 epochs (bound) that start from that model.
2. Replay: the search's own searcher and scheduler objects (tunesim.py, driven as Tune
   drives them, 2 trials at a time) run against a lookup trainable that returns the
   recorded metric at each epoch, several seeds per strategy. Compute is counted in
   trial-epochs; wall time is the recorded epoch times on the simulated 2-wide clock,
   plus --overhead-s per trial (the per-trial overhead of trial_overhead.py).

"Reached" = a trial that ran to max_t (one the search would promote) finished with a
value within 1 % of the grid's best final value (relative; above it for "max"). Prints
one JSON object and writes the best-so-far plot (--plot).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunesim import Event, environment, make_scheduler, make_searcher, simulate

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

SETTINGS: dict[str, dict[str, Any]] = {
    "full": {
        "dao": {
            "data": {"source": "synthetic-finsent", "n_train": 320, "seed": 0},
            "fixed": {
                "max_len": 32,
                "batch_size": 16,
                "warmup_steps": 5,
                "weighting": "constant",
                "epochs": 4,
            },
            "grid": {"lora_rank": [4, 16], "lr": [3e-5, 1e-4, 3e-4], "w_c": [0.1, 0.5]},
        },
        "dama": {
            "data": {
                "source": "synthetic-multidomain",
                "n_train": 1600,
                "val_fraction": 0.2,
                "seed": 0,
            },
            "fixed": {"batch_size": 32, "max_len": 32, "embedding_dim": 32, "num_blocks": 2},
            "stage_epochs": [4, 2],
            "grid": {
                "gamma": [0.0, 0.02, 0.04, 0.06, 0.08, 0.1],
                "bound": [100.0, 500.0],
            },
        },
    },
    "tiny": {  # the CI smoke: seconds, not a measurement
        "dao": {
            "data": {"source": "synthetic-finsent", "n_train": 40, "seed": 0},
            "fixed": {
                "max_len": 12,
                "batch_size": 8,
                "warmup_steps": 0,
                "weighting": "constant",
                "epochs": 2,
            },
            "grid": {"lora_rank": [4], "lr": [1e-4, 3e-4], "w_c": [0.25]},
        },
        "dama": {
            "data": {"source": "synthetic-multidomain", "n_train": 64, "seed": 0},
            "fixed": {"batch_size": 16, "max_len": 12, "embedding_dim": 8, "num_blocks": 2},
            "stage_epochs": [1, 1],
            "grid": {"gamma": [0.0, 0.1], "bound": [100.0]},
        },
    },
}
OBJECTIVE = {"dao": ("val/mse", "min"), "dama": ("val/acc", "max")}
# name: (sampler, scheduler, trials as a multiple of the grid's size, sampler_options)
STRATEGIES: dict[str, tuple[str, str, int, dict[str, Any]]] = {
    # Optuna's TPE samples its first 10 trials at random; on a 12-config grid that is
    # most of the search. Fewer start-up trials (3 is adaptune's default for searches of
    # at most 32 trials, driver/tuner.py), and the other samplers a job can name
    # (search.sampler_options, job/algorithms.py):
    "tpe+asha": ("tpe", "asha", 2, {"n_startup_trials": 10}),
    "tpe(3 startup)+asha": ("tpe", "asha", 2, {"n_startup_trials": 3}),
    "tpe(1 startup)+asha": ("tpe", "asha", 2, {"n_startup_trials": 1}),
    "tpe(5 startup)+asha": ("tpe", "asha", 2, {"n_startup_trials": 5}),
    "tpe(3 startup, independent)+asha": (
        "tpe",
        "asha",
        2,
        {"n_startup_trials": 3, "multivariate": False},
    ),
    "tpe(3 startup, no constant liar)+asha": (
        "tpe",
        "asha",
        2,
        {"n_startup_trials": 3, "constant_liar": False},
    ),
    "tpe(3 startup)+median": ("tpe", "median", 2, {"n_startup_trials": 3}),
    "gp(3 startup)+asha": ("gp", "asha", 2, {"n_startup_trials": 3}),
    "nsga2(population 4)+asha": ("nsga2", "asha", 2, {"population_size": 4}),
    "qmc+asha": ("qmc", "asha", 2, {"scramble": True}),
    "random+asha": ("random", "asha", 2, {}),
    "random": ("random", "fifo", 2, {}),
}


def _configs(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def record_dao(s: dict[str, Any], cache: str) -> list[dict[str, Any]]:
    from inproc import train_in_process

    metric = OBJECTIVE["dao"][0]
    first = _configs(s["grid"])[0]  # a throwaway epoch: the first one runs cold
    train_in_process("dao", {**s["fixed"], **first, "epochs": 1}, s["data"], cache)
    out = []
    for config in _configs(s["grid"]):
        curve = train_in_process("dao", {**s["fixed"], **config}, s["data"], cache)
        out.append(
            {
                "config": config,
                "values": [e[metric] for e in curve.epochs],
                "epoch_s": [e["epoch_time_s"] for e in curve.epochs],
            }
        )
    return out


def record_dama(s: dict[str, Any], cache: str, tmp: str) -> list[dict[str, Any]]:
    """Stage 1 once per gamma (its model saved), then stage 2 per bound from that model."""
    from inproc import train_in_process

    metric = OBJECTIVE["dama"][0]
    e1, e2 = s["stage_epochs"]
    warm = {**s["fixed"], "stage": 1, "gamma": 0.0, "epochs": 1}  # the first epoch runs cold
    train_in_process("dama", warm, s["data"], cache)
    out = []
    for gamma in s["grid"]["gamma"]:
        base = str(Path(tmp, f"gamma-{gamma}"))
        first = train_in_process(
            "dama",
            {**s["fixed"], "stage": 1, "gamma": gamma, "epochs": e1},
            s["data"],
            cache,
            save_to=base,
        )
        for bound in s["grid"]["bound"]:
            second = train_in_process(
                "dama",
                {**s["fixed"], "stage": 2, "init_from": base, "bound": bound, "epochs": e2},
                s["data"],
                cache,
            )
            epochs = first.epochs + second.epochs
            out.append(
                {
                    "config": {"gamma": gamma, "bound": bound},
                    "values": [e[metric] for e in epochs],
                    "epoch_s": [e["epoch_time_s"] for e in epochs],
                }
            )
    return out


def _better(mode: str) -> Callable[[float, float], bool]:
    return (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)


def _reached(value: float, target: float, mode: str) -> bool:
    return value <= target * 1.01 if mode == "min" else value >= target * 0.99


def replay(
    curves: list[dict[str, Any]],
    mode: str,
    metric: str,
    strategy: str,
    seed: int,
    overhead_s: float,
) -> list[Event]:
    from optuna.distributions import CategoricalDistribution

    keys = list(curves[0]["config"])
    space = {k: CategoricalDistribution(sorted({c["config"][k] for c in curves})) for k in keys}
    table = {tuple(c["config"][k] for k in keys): c for c in curves}

    def lookup(config: dict[str, Any]) -> dict[str, Any]:
        return table[tuple(config[k] for k in keys)]

    max_t = len(curves[0]["values"])
    sampler, sched, mult, options = STRATEGIES[strategy]
    return simulate(
        make_searcher(space, metric, mode, sampler, seed, options),
        make_scheduler(sched, metric, mode, max_t, grace_period=1, reduction_factor=2),
        lambda config, epoch: lookup(config)["values"][epoch - 1],
        lambda config, epoch: lookup(config)["epoch_s"][epoch - 1],
        num_samples=mult * len(curves),
        max_concurrent=2,
        max_t=max_t,
        metric=metric,
        overhead_s=overhead_s,
    )


def best_so_far(events: list[Event], mode: str) -> list[tuple[int, float, float]]:
    """(trial-epochs, wall s, best completed value) after each completed trial."""
    better, best, out = _better(mode), None, []
    for e in events:
        if e.completed and (best is None or better(e.value, best)):
            best = e.value
        if e.completed and best is not None:
            out.append((e.trial_epochs, e.clock_s, best))
    return out


def summarise(
    method: str,
    recorded: dict[str, Any],
    seeds: int,
    overhead_s: float,
    strategies: list[str] | None = None,
) -> dict[str, Any]:
    metric, mode = OBJECTIVE[method]
    strategies = strategies or list(STRATEGIES)
    curves = recorded["curves"]
    finals = [c["values"][-1] for c in curves]
    target = (min if mode == "min" else max)(finals)
    max_t = len(curves[0]["values"])
    grid = _grid_run(curves, overhead_s)
    out: dict[str, Any] = {
        "metric": metric,
        "mode": mode,
        "configs": len(curves),
        "max_t": max_t,
        "grid_best": target,
        "configs_within_1pct": sum(_reached(v, target, mode) for v in finals),
        "grid": {"trial_epochs": grid[0], "wall_s": round(grid[1], 1)},
        "strategies": {},
    }
    curves_out: dict[str, list[list[tuple[int, float, float]]]] = {}
    for strategy in strategies:
        hits, walls, runs = [], [], []
        for seed in range(seeds):
            events = replay(curves, mode, metric, strategy, seed, overhead_s)
            trace = best_so_far(events, mode)
            runs.append(trace)
            hit = next((t for t in trace if _reached(t[2], target, mode)), None)
            # A seed that never got there within its budget counts as infinitely late.
            hits.append(hit[0] if hit else math.inf)
            walls.append(hit[1] if hit else math.inf)
        curves_out[strategy] = runs
        median = statistics.median(hits)
        out["strategies"][strategy] = {
            "seeds": seeds,
            "budget_trials": STRATEGIES[strategy][2] * len(curves),
            "reached": sum(h < math.inf for h in hits),
            "trial_epochs_median": _finite(median),
            "trial_epochs_each": [_finite(h) for h in hits],
            "wall_s_median": _finite(round(statistics.median(walls), 1)),
            "fraction_of_grid_compute": _finite(round(median / grid[0], 3)),
        }
    if method == "dama":
        out["two_stage_grid"] = _two_stage(
            curves, target, mode, recorded["settings"]["stage_epochs"][0]
        )
    out["_traces"] = curves_out
    return out


def _finite(x: float) -> float | None:
    """JSON has no infinity: None stands for "not reached"."""
    return None if math.isinf(x) else x


def _grid_run(curves: list[dict[str, Any]], overhead_s: float) -> tuple[int, float]:
    """Trial-epochs and wall seconds of the full grid, 2 configs at a time."""
    slots = [0.0, 0.0]
    for c in curves:
        i = slots.index(min(slots))
        slots[i] += overhead_s + sum(c["epoch_s"])
    return sum(len(c["values"]) for c in curves), max(slots)


def _two_stage(curves: list[dict[str, Any]], target: float, mode: str, e1: int) -> dict[str, Any]:
    """The paper's hand search: gamma grid on stage 1, then the bound grid from the best."""
    better = _better(mode)
    by_gamma: dict[float, list[dict[str, Any]]] = {}
    for c in curves:
        by_gamma.setdefault(c["config"]["gamma"], []).append(c)
    best_gamma = None
    for gamma, cs in by_gamma.items():
        v = cs[0]["values"][e1 - 1]
        if best_gamma is None or better(v, by_gamma[best_gamma][0]["values"][e1 - 1]):
            best_gamma = gamma
    assert best_gamma is not None
    finals = [c["values"][-1] for c in by_gamma[best_gamma]]
    value = (min if mode == "min" else max)(finals)
    e2 = len(curves[0]["values"]) - e1
    return {
        "gamma": best_gamma,
        "value": value,
        "within_1pct": _reached(value, target, mode),
        "trial_epochs": len(by_gamma) * e1 + len(by_gamma[best_gamma]) * e2,
    }


def _at(trace: list[tuple[int, float, float]], xs: list[int]) -> list[float]:
    """Best-so-far value after each compute budget in xs (NaN before the first)."""
    out, i, best = [], 0, math.nan
    for x in xs:
        while i < len(trace) and trace[i][0] <= x:
            best = trace[i][2]
            i += 1
        out.append(best)
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    """Per method: the median (line) and quartiles (band) over seeds of the best value so
    far, and the share of seeds within 1 % of the grid's best, against trial-epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    methods = list(results)
    fig, axes = plt.subplots(2, len(methods), figsize=(6 * len(methods), 7), squeeze=False)
    for col, method in enumerate(methods):
        r = results[method]
        grid_x = r["grid"]["trial_epochs"]
        longest = max(t[-1][0] for runs in r["_traces"].values() for t in runs if t)
        xs = list(range(1, max(longest, grid_x) + 1))
        band = r["grid_best"] * (1.01 if r["mode"] == "min" else 0.99)
        top, bottom = axes[0][col], axes[1][col]
        for i, (strategy, runs) in enumerate(r["_traces"].items()):
            ys = np.array([_at(t, xs) for t in runs])
            with warnings.catch_warnings():  # all-NaN columns: before any trial ended
                warnings.simplefilter("ignore")
                q1, med, q3 = np.nanpercentile(ys, [25, 50, 75], axis=0)
            top.step(xs, med, where="post", color=f"C{i}", label=strategy)
            top.fill_between(xs, q1, q3, step="post", color=f"C{i}", alpha=0.15)
            hit = np.array([[_reached(v, r["grid_best"], r["mode"]) for v in y] for y in ys])
            bottom.step(xs, hit.mean(axis=0), where="post", color=f"C{i}", label=strategy)
        for ax in (top, bottom):
            ax.axvline(grid_x, color="grey", ls="--", label="full grid")
            ax.axvline(0.2 * grid_x, color="grey", ls=":", label="20 % of the grid")
            ax.set_xlabel("compute (trial-epochs)")
        top.axhline(r["grid_best"], color="k", lw=1, label="grid's best")
        top.axhline(band, color="k", lw=1, ls=":", label="within 1 %")
        top.set_ylabel(f"best {r['metric']} so far\n(median, quartiles over seeds)")
        top.set_title(f"{method}: {r['configs']}-config grid, {len(runs)} seeds")
        bottom.set_ylabel("share of seeds within 1 % of the grid's best")
        top.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=["dao", "dama"])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--size", choices=list(SETTINGS), default="full")
    ap.add_argument("--curves", help="recorded grid curves (JSON): read if it exists, else written")
    ap.add_argument("--overhead-s", type=float, default=0.0, help="per-trial overhead to add")
    ap.add_argument("--plot", default=str(RESULTS / "search_efficiency.png"))
    ap.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), help="default: all")
    args = ap.parse_args()
    settings = SETTINGS[args.size]
    curves_path = Path(args.curves) if args.curves else None
    recorded: dict[str, Any] = {}
    if curves_path is not None and curves_path.exists():
        recorded = json.loads(curves_path.read_text())
    missing = [m for m in args.methods if m not in recorded]
    with tempfile.TemporaryDirectory() as tmp:
        for method in missing:
            s = settings[method]
            recorded[method] = {
                "settings": s,
                "curves": record_dao(s, tmp + "/cache")
                if method == "dao"
                else record_dama(s, tmp + "/cache", tmp),
            }
    if curves_path is not None and missing:
        curves_path.parent.mkdir(parents=True, exist_ok=True)
        curves_path.write_text(json.dumps(recorded, indent=1))
    results = {}
    for method in args.methods:
        results[method] = summarise(
            method, recorded[method], args.seeds, args.overhead_s, args.strategies
        )
    if args.plot:
        plot(results, Path(args.plot))
    for r in results.values():
        del r["_traces"]
    print(
        json.dumps(
            {
                "benchmark": "search_efficiency",
                **environment(),
                "size": args.size,
                "seeds": args.seeds,
                "overhead_s_per_trial": args.overhead_s,
                "max_concurrent": 2,
                "results": results,
                "plot": args.plot,
                "goal_tpe_asha_fraction_of_grid": 0.2,
            }
        )
    )


if __name__ == "__main__":
    main()
