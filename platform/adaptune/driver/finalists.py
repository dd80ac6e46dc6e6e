"""Seed-robust selection: the search's best configs re-trained with more seeds, the best
mean val wins (``search.finalists: {top_k: 3, seeds: 2}``).

    decision = select(plan, placement, setup, decision, ledger, where)

A search picks its winner from single-seed trials; one lucky seed can win it. With
finalists, the `top_k` completed trials by val are each trained `seeds` more times (fresh
seeds, every epoch: a Tune run per finalist, its seeds in parallel, runs of kind
``finalist`` under the search run); each finalist's val scores are its own trial's and
those seeds'. The winner is the best mean; per finalist the mean, its 95 % interval and
the probability that it is the best (a bootstrap over seeds, stats.prob_best) go to the
summary and to the search run's ``adaptune.finalists`` tag. Only val is read: the
winner's test score and its ``final.seeds`` re-runs follow as for any search. Trials a
scheduler stopped never reach the finals (they did not run every epoch).
"""

from __future__ import annotations

import json
import math
from typing import Any

from adaptune.driver.final import fresh_seeds, train_seeds
from adaptune.driver.ledger import Ledger
from adaptune.driver.results import Decision, chosen, scored
from adaptune.driver.tuner import Placement
from adaptune.plan import Plan
from adaptune.stats import prob_best, summarize
from adaptune.tracking.names import Kind, Tag
from adaptune.train.trial import TrialSetup

__all__ = ["select"]


def select(
    plan: Plan,
    placement: Placement,
    setup: TrialSetup,
    decision: Decision,
    ledger: Ledger,
    where: tuple[Any, str, str],
) -> Decision:
    """The decision with its winner chosen among the finalists by mean val (unchanged when
    the job asks for none or fewer than two trials completed). `where`: the MLflow client,
    experiment and search run the finalists' runs go under."""
    spec = plan.job.the_search.finalists
    if spec is None or decision.best_trial is None:
        return decision
    top = plan.mode.ranked(scored(ledger, plan), key=lambda t: float(t.last_result[plan.metric]))[
        : spec.top_k
    ]
    if len(top) < 2:
        print(f"finalists: {len(top)} trial completed; nothing to compare", flush=True)
        return decision
    print(
        f"finalists: the {len(top)} best trials by {plan.metric}, each with {spec.seeds} "
        f"more seeds: {', '.join(t.trial_id for t in top)}",
        flush=True,
    )
    values: list[list[float]] = []
    for i, trial in enumerate(top):
        seeds = fresh_seeds(int(plan.resolved(trial.config).get("seed", 0)) + i, spec.seeds)
        suffix = f"finalist-{trial.trial_id}"
        rows = train_seeds(
            plan, placement, setup, dict(trial.config), seeds, suffix, where, Kind.FINALIST
        )
        values.append([float(trial.last_result[plan.metric]), *(r[plan.metric] for r in rows)])
    p_best = prob_best(values, maximize=plan.mode == "max")
    finalists = []
    for t, xs, p in zip(top, values, p_best, strict=True):
        s = summarize(xs)
        ci95 = s.ci95 if math.isfinite(s.ci95) else None  # one value: no interval
        finalists.append(
            {"trial": t.trial_id, "n": s.n, "mean": s.mean, "ci95": ci95, "p_best": p, "values": xs}
        )
    winner = plan.mode.best(range(len(top)), key=lambda i: finalists[i]["mean"])
    client, _, run_id = where
    client.set_tag(run_id, Tag.FINALISTS, json.dumps(finalists))
    return chosen(decision, top[winner], ledger, plan, finalists=finalists)
