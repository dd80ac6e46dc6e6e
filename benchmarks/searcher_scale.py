"""Scale of the searcher: time per suggestion and per scheduler decision as trials pile up.

    python benchmarks/searcher_scale.py [--at 100 1000] [--window 20] [--samplers tpe random]

The search's own objects (``OptunaSearch`` with a seeded sampler over
search_spaces/dao.yaml, ``ASHAScheduler``) are driven as Tune drives them (see
tunesim.py) against a simulated trainable: a smooth synthetic learning curve per config,
10 epochs, ASHA grace 1 / rf 3, 2 trials at a time. Calls are timed with
``perf_counter`` around the call only; for each N in --at, the figures cover the
suggestions (and decisions, completions) made while N..N+window trials had finished.
Prints one JSON object. Goal: <= 50 ms per suggestion at 1,000 finished trials.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from tunesim import (
    Timings,
    environment,
    make_scheduler,
    make_searcher,
    quantiles,
    simulate,
)

ROOT = Path(__file__).resolve().parent.parent
METRIC, MAX_T = "val/mse", 10


def curve(config: dict[str, Any], epoch: int) -> float:
    """A smooth bowl in log(lr), log(dao_lr), log2(rank), approached over the epochs."""
    final = (
        0.05
        + 0.04 * (math.log10(config["lr"]) + 4.2) ** 2
        + 0.01 * (math.log10(config["dao_lr"]) + 2.5) ** 2
        + 0.002 * (math.log2(config["lora_rank"]) - 5) ** 2
    )
    start = 0.5 + 0.1 * math.sin(1000 * config["lr"])  # trial-to-trial spread
    return final + (start - final) * math.exp(-epoch / (1.5 + 40 * config["lr"] * 1e3 / 3))


def run(sampler: str, at: list[int], window: int, seed: int) -> dict[str, Any]:
    from adaptune.job.space import load_space

    space = load_space(ROOT / "search_spaces" / "dao.yaml")
    timings = Timings()
    simulate(
        make_searcher(space, METRIC, "min", sampler, seed),
        make_scheduler("asha", METRIC, "min", MAX_T, grace_period=1, reduction_factor=3),
        curve,
        lambda config, epoch: 1.0,
        num_samples=max(at) + window + 2,
        max_concurrent=2,
        max_t=MAX_T,
        metric=METRIC,
        timings=timings,
    )
    out: dict[str, Any] = {}
    for n in at:

        def pick(calls: list[tuple[int, float, float]], i: int, n: int = n) -> list[float]:
            return [c[i] for c in calls if n <= c[0] < n + window]

        out[str(n)] = {
            f"{name}_{unit}": quantiles(pick(calls, i), 1e3)
            for name, calls in (
                ("suggest", timings.suggest),
                ("decision", timings.decide),
                ("complete", timings.complete),
            )
            for i, unit in ((1, "ms"), (2, "cpu_ms"))
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--at", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--samplers", nargs="+", default=["tpe", "random"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    results = {s: run(s, sorted(args.at), args.window, args.seed) for s in args.samplers}
    top = str(max(args.at))
    print(
        json.dumps(
            {
                "benchmark": "searcher_scale",
                **environment(),
                "space": "search_spaces/dao.yaml",
                "scheduler": {"type": "asha", "max_t": MAX_T, "grace": 1, "rf": 3},
                "window": args.window,
                "results": results,
                "goal_suggest_ms_at_max": 50.0,
                "meets_goal": all(
                    r[top]["suggest_ms"].get("median", math.inf) <= 50.0 for r in results.values()
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
