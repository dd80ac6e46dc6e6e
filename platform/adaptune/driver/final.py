"""After the search: the chosen trial's test score, and its config re-trained with fresh
seeds, each scored on test, for a mean and a 95 % interval (docs/evaluation.md).

    reruns = rerun_best(plan, placement, setup, decision, client, experiment_id, parent)
    record(client, box, best_trial, metric, test, reruns, out_dir)   # MLflow, reruns.csv

Every completed trial scores the test split once, after its last epoch (a forward pass,
so the winner needs no reload); the recorder keeps those numbers out of MLflow, and only
the chosen trial's are recorded and printed. Samplers and schedulers act on val alone.
The re-runs are Tune trials of their own (FIFO: every seed trains every epoch), nested
under the search run as runs of kind ``rerun``; they are not counted as search trials.
Each re-run's val objective is kept too: its mean and per-seed values are what the
champion alias compares (tracking/evidence.py); test is reported, never compared.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptune import tracking
from adaptune.driver import console
from adaptune.driver.ledger import Ledger
from adaptune.driver.recorder import SEARCH_RUN, SearchRecorder
from adaptune.driver.results import Decision
from adaptune.driver.tuner import Placement
from adaptune.method import TEST_PREFIX, test_name
from adaptune.plan import Plan
from adaptune.stats import summarize
from adaptune.tracking.names import Kind, Status, Tag
from adaptune.tracking.outbox import Outbox
from adaptune.train.trial import TrialSetup, run_trial

__all__ = ["Reruns", "fresh_seeds", "record", "rerun_best", "train_seeds"]

SEED_STRIDE = 1009  # re-run seeds: the best trial's seed plus multiples of a prime


def fresh_seeds(base: int, k: int) -> list[int]:
    return [(base + SEED_STRIDE * (i + 1)) % 2**32 for i in range(k)]


@dataclass(frozen=True)
class Reruns:
    rows: list[dict[str, Any]] = field(default_factory=list)  # trial_id, seed, val obj., test/*
    final: dict[str, dict[str, float]] = field(default_factory=dict)  # those metrics -> stats


def rerun_best(
    plan: Plan,
    placement: Placement,
    setup: TrialSetup,
    decision: Decision,
    client: Any,
    experiment_id: str,
    parent_run_id: str,
) -> Reruns:
    """Re-train the best config with `final.seeds` fresh seeds in parallel: one row per
    completed seed, and per test metric its mean, std and 95 % interval."""
    k = plan.job.final.seeds
    if k == 0 or decision.best_trial is None:
        return Reruns()
    config = plan.resolved(decision.best_params)
    seeds = fresh_seeds(int(config.get("seed", 0)), k)
    print(f"re-running the best config with {k} fresh seeds: {seeds}", flush=True)
    where = (client, experiment_id, parent_run_id)
    rows = train_seeds(plan, placement, setup, decision.best_params, seeds, "final", where)
    rows = [r for r in rows if any(k.startswith(TEST_PREFIX) for k in r)]
    if not rows:
        return Reruns()
    keys = [plan.metric, *sorted({k for row in rows for k in row if k.startswith(TEST_PREFIX)})]
    stats = {k: dataclasses.asdict(summarize([r[k] for r in rows if k in r])) for k in keys}
    return Reruns(rows, stats)


def train_seeds(
    plan: Plan,
    placement: Placement,
    setup: TrialSetup,
    params: dict[str, Any],
    seeds: list[int],
    suffix: str,
    where: tuple[Any, str, str],
    kind: Kind = Kind.RERUN,
) -> list[dict[str, Any]]:
    """Train the config `params` once per seed, in parallel (a Tune run of its own,
    SEARCH-`suffix`, its runs of `kind` nested under the search run `where` names:
    client, experiment, run id). One row per completed seed: trial_id, seed, the val
    objective and the test metrics it scored."""
    from ray import tune

    client, experiment_id, parent_run_id = where
    name = f"{setup.search}-{suffix}"
    box, ledger = Outbox(say=console.say), Ledger()
    recorder = SearchRecorder(
        plan, client, experiment_id, parent_run_id, setup.search, kind=kind,
        box=box, ledger=ledger, total=len(seeds),  # one trial a seed
    )  # fmt: skip
    trainable = functools.partial(run_trial, setup=dataclasses.replace(setup, search=name))
    tuner = tune.Tuner(
        tune.with_resources(trainable, placement.actor_resources),
        param_space={**params, "seed": tune.grid_search(seeds)},
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
    box.drain(tracking.outbox.catch_up_seconds())
    per_domain = f"{plan.metric}/"  # val/acc/<domain>: what no_domain_regresses compares
    return [  # the val objective (promotion reads it), then test
        {
            "trial_id": trial_id,
            "seed": int(e.trial.config["seed"]),
            plan.metric: float(e.trial.last_result[plan.metric]),
            **{k: float(v) for k, v in e.trial.last_result.items() if k.startswith(per_domain)},
            **e.test,
        }
        for trial_id, e in sorted(ledger.entries.items())
        if e.status is Status.COMPLETED and plan.metric in e.trial.last_result
    ]


def record(
    client: Any,
    box: Any,
    best_trial: str | None,
    metric: str,
    test: dict[str, float],
    reruns: Reruns,
    out_dir: str,
) -> None:
    """Queue the test results' writes: the chosen trial's test/<metric> on its run and on
    the search run, the re-runs' mean/std/ci95 and per-seed objective scores on the search
    run, and report/reruns.csv into `out_dir` (logged with the search run's report)."""
    if test and best_trial:
        batch = tracking.metric_batch(test, step=0)
        box.write(best_trial, "test metrics", lambda r: client.log_batch(r, metrics=batch))
    flat = dict(test)
    for key, agg in reruns.final.items():
        flat.update({f"{key}_mean": agg["mean"], f"{key}_std": agg["std"]})
        flat[f"{key}_ci95"] = agg["ci95"]
    if flat:
        batch = tracking.metric_batch(flat, step=0)
        box.write(SEARCH_RUN, "test metrics", lambda r: client.log_batch(r, metrics=batch))
    for key, tag in ((metric, Tag.VAL_SCORES), (test_name(metric), Tag.TEST_SCORES)):
        scores = [row[key] for row in reruns.rows if key in row]
        if scores:
            text = ",".join(repr(float(s)) for s in scores)
            write = lambda r, t=tag, v=text: client.set_tag(r, t, v)  # noqa: E731
            box.write(SEARCH_RUN, f"{key} scores tag", write)
    domains: dict[str, list[float]] = {}
    for row in reruns.rows:
        for key in (k for k in row if k.startswith(f"{metric}/")):
            domains.setdefault(key.removeprefix(f"{metric}/"), []).append(float(row[key]))
    if domains:
        text = json.dumps(domains, sort_keys=True)
        box.write(
            SEARCH_RUN, "domain scores", lambda r: client.set_tag(r, Tag.VAL_DOMAIN_SCORES, text)
        )
    if reruns.rows:
        keys = sorted({k for row in reruns.rows for k in row})
        with open(Path(out_dir) / "reruns.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(reruns.rows)
