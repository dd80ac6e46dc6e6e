"""Comparisons at equal budget: one search per arm, the same seeded re-runs of each arm's
best config, and a table of test means with intervals and paired tests.

    summaries = run_arms(plans, state_dir)     # plans = make_plans(job) of a job with arms

Every arm runs the job's search (sampler, num_samples, scheduler, seed) on the same data;
only its fixed values and, if it gives one, its space differ. Each arm's best config is
re-trained with the same fresh seeds (``final.seeds`` >= 2), so arm a's seed i and arm
b's seed i pair up. The job run gets report/comparison.{csv,md,png}. The arm promoted
is the one the validation split prefers (its best trial's val value), never the test.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
from pathlib import Path
from typing import Any

from adaptune import tracking
from adaptune.driver.jobreport import method_report
from adaptune.driver.results import SearchSummary
from adaptune.driver.run import new_name, run_search
from adaptune.method import test_name
from adaptune.plan import Plan
from adaptune.stats import adjusted, by_seed, paired, summarize
from adaptune.tracking.names import Kind, Tag

__all__ = ["comparison_rows", "run_arms"]


def run_arms(
    plans: list[Plan], state_dir: Path, *, origin: dict[str, Any] | None = None, **kwargs: Any
) -> list[SearchSummary]:
    """Run every arm's search under one job run, then compare them on test."""
    job = plans[0].job
    name = job.job_name or job.name
    uri = tracking.resolve_uri(kwargs.get("tracking_uri") or job.tracking.uri, state_dir)
    client = tracking.setup(uri)
    experiment = tracking.ensure_experiment(client, job.tracking.experiment or name, state_dir)
    arms = ",".join(p.job.arm for p in plans)
    tags = {Tag.KIND: Kind.JOB, Tag.JOB: name, Tag.METHOD: job.method, Tag.ARMS: arms}
    run_id = client.create_run(experiment, run_name=new_name(name), tags=tags).info.run_id
    summaries = []
    for i, plan in enumerate(plans):
        print(f"\n== arm {i + 1}/{len(plans)}: {plan.job.arm} ==", flush=True)
        summary = run_search(
            plan,
            state_dir,
            parent_run_id=run_id,
            promote=False,
            origin={**(origin or {}), "arm": plan.job.arm},
            **kwargs,
        )
        print("\n".join(summary.lines()), flush=True)
        summaries.append(summary)
    rows, verdicts = comparison_rows(plans, summaries)
    _log_report(client, run_id, plans[0], rows, verdicts)
    best = [str(s.best_run_id) for s in summaries if s.best_run_id]  # every arm finished
    method_report(plans[0], client, run_id, [p.job.arm for p in plans], best)
    print("\n".join(_markdown(plans[0], rows, verdicts)), flush=True)
    summaries = _promote_val_winner(client, plans, summaries)
    client.set_terminated(run_id, "FINISHED")
    return summaries


def _keys(plan: Plan) -> list[str]:
    """The test metrics a comparison tables: the objective's, then the method's others."""
    keys = [test_name(plan.metric)]
    keys += [test_name(m) for m in plan.method.compare_metrics if test_name(m) not in keys]
    return keys


def comparison_rows(
    plans: list[Plan], summaries: list[SearchSummary]
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per arm (val best, test mean ± ci95 over the re-runs, for the objective and
    each of the method's ``compare_metrics``) and one verdict per pair of arms and metric
    (paired t-test over the seeds both arms ran, matched by seed id), Holm-adjusted within
    the job but for the job's ``primary`` contrast."""
    keys = _keys(plans[0])
    rows: list[dict[str, Any]] = []
    scores: dict[str, dict[str, dict[int, float]]] = {k: {} for k in keys}  # key, arm, seed
    for plan, s in zip(plans, summaries, strict=True):
        row: dict[str, Any] = {"arm": plan.job.arm, "search": s.search, "val_best": s.best_value}
        for key in keys:
            seeded = {int(r["seed"]): r[key] for r in s.reruns if key in r}
            scores[key][plan.job.arm] = seeded
            values = list(seeded.values())
            agg = summarize(values) if values else None
            for stat in ("mean", "std", "ci95"):
                row[f"{key}_{stat}"] = getattr(agg, stat) if agg else None
        row["seeds"] = len(scores[keys[0]][plan.job.arm])
        rows.append(row)
    contrasts = []  # (metric, arm a, arm b): every pair, on every metric
    for key in keys:
        contrasts += [(key, a, b) for a, b in itertools.combinations(scores[key], 2)]
    want = plans[0].job.primary  # [candidate, baseline] on the objective: read at its own p
    primary = next((i for i, c in enumerate(contrasts) if want and set(c[1:]) == set(want)), None)
    if primary is not None and want:
        contrasts[primary] = (keys[0], *want)
    tests = adjusted(
        [paired(*by_seed(scores[k][a], scores[k][b])) for k, a, b in contrasts], primary
    )
    verdicts = []
    for i, ((key, a, b), test) in enumerate(zip(contrasts, tests, strict=True)):
        verdict = test.verdict(a, b) + (" — the primary contrast" if i == primary else "")
        if lone := sorted(set(scores[key][a]) ^ set(scores[key][b])):  # paired by seed id
            verdict += f"; seeds {', '.join(map(str, lone))} ran in one arm only, left out"
        verdicts.append(verdict if len(keys) == 1 else f"{key}: {verdict}")
    return rows, verdicts


def _markdown(plan: Plan, rows: list[dict[str, Any]], verdicts: list[str]) -> list[str]:
    keys = _keys(plan)
    head = " | ".join(f"{k} mean ± 95 % CI" for k in keys)
    out = [
        f"| arm | best {plan.metric} (selection) | {head} | seeds |",
        "|---|---|" + "---|" * len(keys) + "---|",
    ]
    for r in rows:
        cells = []
        for key in keys:
            mean, ci = r[f"{key}_mean"], r[f"{key}_ci95"]
            cells.append("—" if mean is None else f"{mean:.4g} ± {ci:.2g}")
        val = "—" if r["val_best"] is None else f"{r['val_best']:.4g}"
        out.append(f"| {r['arm']} | {val} | {' | '.join(cells)} | {r['seeds']} |")
    return [*out, "", *(f"- {v}" for v in verdicts)]


def _log_report(
    client: Any, run_id: str, plan: Plan, rows: list[dict[str, Any]], verdicts: list[str]
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        with open(Path(tmp, "comparison.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        Path(tmp, "comparison.md").write_text("\n".join(_markdown(plan, rows, verdicts)) + "\n")
        _plot(plan, rows).savefig(Path(tmp, "comparison.png"), dpi=110)
        client.log_artifacts(run_id, tmp, artifact_path="report")
    for r in rows:
        for key in _keys(plan):
            if r[f"{key}_mean"] is not None:
                client.log_metric(run_id, f"{r['arm']}/{key}_mean", r[f"{key}_mean"])


def _plot(plan: Plan, rows: list[dict[str, Any]]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    key = test_name(plan.metric)
    shown = [r for r in rows if r[f"{key}_mean"] is not None]
    fig = Figure(figsize=(max(5.0, 1.2 * len(shown)), 3.6))
    ax = fig.add_subplot()
    xs = range(len(shown))
    ax.bar(xs, [r[f"{key}_mean"] for r in shown], color="#4c78a8")
    ax.errorbar(xs, [r[f"{key}_mean"] for r in shown], yerr=[r[f"{key}_ci95"] or 0 for r in shown],
                fmt="none", ecolor="black", capsize=4)  # fmt: skip
    ax.set_xticks(list(xs), [r["arm"] for r in shown], rotation=20, ha="right")
    ax.set_ylabel(f"{key} (mean ± 95 % CI over seeds)")
    ax.set_title("arms at equal budget, held-out test split")
    fig.tight_layout()
    return fig


def _promote_val_winner(
    client: Any, plans: list[Plan], summaries: list[SearchSummary]
) -> list[SearchSummary]:
    """Promote the arm the validation split prefers (guarded by the job's promote.rule);
    the summaries, the promoting arm's with its promotion."""
    job = plans[0].job
    done = [(p, s) for p, s in zip(plans, summaries, strict=True) if s.best_value is not None]
    if not job.promote.enabled or not done:
        return summaries
    plan, summary = plans[0].mode.best(done, key=lambda ps: float(ps[1].best_value or 0))
    result = tracking.promote(
        client,
        client.get_run(summary.parent_run_id),
        job.promote.model_name or job.job_name or job.name,
        job.promote.alias,
        plan.metric,
        plan.mode,
        best_trial=summary.best_trial,
        rule=job.promote.rule,
    )
    state = "promoted" if result.promoted else "not promoted"
    print(f"champion (arm {plan.job.arm}, chosen on val): {state}: {result.reason}", flush=True)
    promoted = dataclasses.replace(summary, promotion=result)
    return [promoted if s is summary else s for s in summaries]
