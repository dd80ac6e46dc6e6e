"""After the search: the chosen trial's test score, and its config re-trained with fresh
seeds, each scored on test, for a mean and a 95 % interval (docs/evaluation.md).

    rerun_best(plan, placement, setup, summary, client, experiment_id)   # final.seeds > 0
    record(client, box, summary, out_dir)      # test metrics, aggregates, reruns.csv

Every completed trial scores the test split once, after its last epoch (a forward pass,
so the winner needs no reload); the recorder keeps those numbers out of MLflow, and only
the chosen trial's are recorded and printed. Samplers and schedulers act on val alone.
The re-runs are Tune trials of their own (FIFO: every seed trains every epoch), nested
under the search run as runs of kind ``rerun``; they are not counted as search trials.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from pathlib import Path
from typing import Any

from adaptune import tracking
from adaptune.driver.recorder import SEARCH_RUN, SearchRecorder
from adaptune.driver.results import SearchSummary
from adaptune.driver.tuner import Placement
from adaptune.method import test_name
from adaptune.plan import Plan
from adaptune.stats import summarize
from adaptune.tracking.names import Kind, Status, Tag
from adaptune.train.trial import TrialSetup, run_trial

__all__ = ["fresh_seeds", "record", "rerun_best"]

SEED_STRIDE = 1009  # re-run seeds: the best trial's seed plus multiples of a prime


def fresh_seeds(base: int, k: int) -> list[int]:
    return [(base + SEED_STRIDE * (i + 1)) % 2**32 for i in range(k)]


def rerun_best(
    plan: Plan,
    placement: Placement,
    setup: TrialSetup,
    summary: SearchSummary,
    client: Any,
    experiment_id: str,
) -> None:
    """Re-train the best config with `final.seeds` fresh seeds in parallel; fills
    summary.reruns (one row per seed) and summary.final (per test metric)."""
    from ray import tune

    k = plan.job.final.seeds
    if k == 0 or summary.best_trial is None:
        return
    config = plan.resolved(summary.best_params)
    seeds = fresh_seeds(int(config.get("seed", 0)), k)
    name = f"{summary.search}-final"
    print(f"re-running the best config with {k} fresh seeds: {seeds}", flush=True)
    recorder = SearchRecorder(
        plan, client, experiment_id, summary.parent_run_id, summary.search, kind=Kind.RERUN
    )
    trainable = functools.partial(run_trial, setup=dataclasses.replace(setup, search=name))
    tuner = tune.Tuner(
        tune.with_resources(trainable, placement.actor_resources),
        param_space={**summary.best_params, "seed": tune.grid_search(seeds)},
        tune_config=tune.TuneConfig(
            max_concurrent_trials=placement.max_concurrent, reuse_actors=placement.in_actor
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=setup.storage_path,
            callbacks=[recorder],
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=setup.retries),
        ),
    )
    tuner.fit()
    recorder.box.drain(tracking.outbox.catch_up_seconds())
    for trial_id, scores in sorted(recorder.test_metrics.items()):
        if recorder.outcome.get(trial_id) is not Status.COMPLETED:
            continue
        seed = int(recorder.trials[trial_id].config["seed"])
        summary.reruns.append({"trial_id": trial_id, "seed": seed, **scores})
    if not summary.reruns:
        return
    for key in sorted({k for row in summary.reruns for k in row if k.startswith("test/")}):
        values = [row[key] for row in summary.reruns if key in row]
        summary.final[key] = dataclasses.asdict(summarize(values))


def record(client: Any, box: Any, summary: SearchSummary, out_dir: str) -> None:
    """Queue the test results' writes: the chosen trial's test/<metric> on its run and on
    the search run, the re-runs' mean/std/ci95 and per-seed objective scores on the search
    run, and report/reruns.csv into `out_dir` (logged with the search run's report)."""
    test = dict(summary.test)
    if test and summary.best_trial:
        batch = tracking.metric_batch(test, step=0)
        box.write(summary.best_trial, "test metrics", lambda r: client.log_batch(r, metrics=batch))
    flat = dict(test)
    for key, agg in summary.final.items():
        flat.update({f"{key}_mean": agg["mean"], f"{key}_std": agg["std"]})
        flat[f"{key}_ci95"] = agg["ci95"]
    if flat:
        batch = tracking.metric_batch(flat, step=0)
        box.write(SEARCH_RUN, "test metrics", lambda r: client.log_batch(r, metrics=batch))
    objective = test_name(summary.metric)
    scores = [row[objective] for row in summary.reruns if objective in row]
    if scores:
        text = ",".join(repr(float(s)) for s in scores)
        box.write(SEARCH_RUN, "test scores tag", lambda r: client.set_tag(r, Tag.TEST_SCORES, text))
    if summary.reruns:
        keys = sorted({k for row in summary.reruns for k in row})
        with open(Path(out_dir) / "reruns.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(summary.reruns)
