"""MAD's comparison report: every arm's test accuracy against the parameters it adds per
domain, with 95 % intervals over the seeded re-runs, and the Visual Decathlon score on
the benchmark's definition (E_max = 2 x the fine-tuning arm's error, per domain).

    job_report(client, job_run_id, best_run_ids)   # Method.job_report, after the arms

Writes report/acc_vs_params.{png,csv} on the job run and logs <arm>/test/score_mean.
"""

from __future__ import annotations

import math
from typing import Any

from adaptune.stats import summarize

from .config import DOMAINS
from .report import accuracy_vs_params_plot
from .step import decathlon_score

__all__ = ["arm_rows", "job_report"]


def _test_rows(client: Any, best_run_id: str) -> list[dict[str, float]]:
    """The seeded re-runs' metrics of the best run's search (seed order); else the best
    run's own (one row)."""
    from adaptune.tracking.store import seeded_metrics

    return seeded_metrics(client, best_run_id, keep="test/acc")


def _ci(values: list[float]) -> tuple[float, float]:
    s = summarize(values)
    return s.mean, 0.0 if math.isnan(s.ci95) else s.ci95


def arm_rows(
    arms: dict[str, list[dict[str, float]]], reference: str | None
) -> list[dict[str, Any]]:
    """Per arm: parameters added per domain, test accuracy mean ± ci95 over seeds, and
    the Decathlon score against `reference` (the fine-tuning arm) mean ± ci95."""
    ref_err: tuple[float, ...] = ()
    if reference in arms:
        ref = arms[str(reference)]
        ref_err = tuple(1.0 - sum(r[f"test/acc/{d}"] for r in ref) / len(ref) for d in DOMAINS)
    out = []
    for name, rows in arms.items():
        acc, acc_ci = _ci([r["test/acc"] for r in rows])
        row = {
            "arm": name,
            "params": rows[0].get("test/params_adapter", 0.0),
            "params_domain": rows[0].get("test/params_domain", 0.0),
            "acc": acc,
            "ci95": acc_ci,
            "seeds": len(rows),
        }
        if ref_err:
            scores = [
                decathlon_score([1.0 - r[f"test/acc/{d}"] for d in DOMAINS], ref_err) for r in rows
            ]
            row["score"], row["score_ci95"] = _ci(scores)
        for d in DOMAINS:
            row[f"acc/{d}"] = _ci([r[f"test/acc/{d}"] for r in rows])[0]
        out.append(row)
    return out


def job_report(client: Any, job_run_id: str, best_run_ids: list[str]) -> None:
    """Method.job_report for a comparison (arms) job; a no-op for other jobs."""
    import csv
    import tempfile
    from pathlib import Path

    from adaptune.tracking.names import Tag

    names = [a for a in client.get_run(job_run_id).data.tags.get(Tag.ARMS, "").split(",") if a]
    if len(names) != len(best_run_ids):
        return
    arms = {n: _test_rows(client, r) for n, r in zip(names, best_run_ids, strict=True)}
    arms = {n: rows for n, rows in arms.items() if all("test/acc" in r for r in rows)}
    modes = {
        n: client.get_run(r).data.params.get("mode")
        for n, r in zip(names, best_run_ids, strict=True)
    }
    reference = next((n for n in arms if modes.get(n) == "finetune"), None)
    rows = arm_rows(arms, reference)
    if not rows:
        return
    with tempfile.TemporaryDirectory() as tmp:
        points = [
            {"label": r["arm"], "params": r["params"], "acc": r["acc"], "ci95": r["ci95"]}
            for r in rows
        ]
        accuracy_vs_params_plot(points, Path(tmp) / "acc_vs_params.png")
        with open(Path(tmp) / "acc_vs_params.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        client.log_artifacts(job_run_id, tmp, artifact_path="report")
    for r in rows:
        if "score" in r:
            client.log_metric(job_run_id, f"{r['arm']}/test/score_mean", r["score"])
    ref = f"against {reference}'s errors" if reference else "not computed: no finetune arm"
    print(f"Decathlon score ({ref}; test, mean over seeds):", flush=True)
    for r in rows:
        score = f"{r['score']:.0f} ± {r['score_ci95']:.0f}" if "score" in r else "—"
        print(
            f"  {r['arm']}: {r['params']:.0f} params/domain, acc {r['acc']:.4f} ± "
            f"{r['ci95']:.2g}, score {score}",
            flush=True,
        )
