"""MAD's comparison report: every arm's test accuracy against the parameters it adds per
domain, with 95 % intervals over the seeded re-runs, and the Visual Decathlon score on
the benchmark's definition (E_max = 2 x the fine-tuning arm's error, per domain).

    report = job_report(arms, out_dir)   # Method.job_report, after the arms

Writes acc_vs_params.{png,csv} (the job run's report/) and returns <arm>/test/score_mean.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from adaptune.method import Arm, JobReport
from adaptune.stats import summarize

from .config import DOMAINS
from .report import accuracy_vs_params_plot
from .step import decathlon_score

__all__ = ["arm_rows", "domains_of", "job_report"]


def _ci(values: list[float]) -> tuple[float, float]:
    s = summarize(values)
    return s.mean, 0.0 if math.isnan(s.ci95) else s.ci95


def domains_of(arms: dict[str, list[dict[str, float]]]) -> list[str]:
    """The domains every arm's rows score (test/acc/<domain>): digits-decathlon's in
    DOMAINS order, an image source's as its rows name them."""
    rows = [r for rs in arms.values() for r in rs]
    prefix = "test/acc/"
    names = [k.removeprefix(prefix) for k in rows[0] if k.startswith(prefix)] if rows else []
    names = [d for d in names if all(prefix + d in r for r in rows)]
    return [d for d in DOMAINS if d in names] + [d for d in names if d not in DOMAINS]


def arm_rows(
    arms: dict[str, list[dict[str, float]]], reference: str | None
) -> list[dict[str, Any]]:
    """Per arm: parameters added per domain, test accuracy mean ± ci95 over seeds, and
    the Decathlon score against `reference` (the fine-tuning arm) mean ± ci95."""
    domains = domains_of(arms)
    ref_err: tuple[float, ...] = ()
    if reference in arms:
        ref = arms[str(reference)]
        ref_err = tuple(1.0 - sum(r[f"test/acc/{d}"] for r in ref) / len(ref) for d in domains)
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
                decathlon_score([1.0 - r[f"test/acc/{d}"] for d in domains], ref_err) for r in rows
            ]
            row["score"], row["score_ci95"] = _ci(scores)
        for d in domains:
            row[f"acc/{d}"] = _ci([r[f"test/acc/{d}"] for r in rows])[0]
        out.append(row)
    return out


def job_report(arms: list[Arm], out_dir: str) -> JobReport | None:
    """Method.job_report: the arms' accuracy against added parameters, and their
    Decathlon scores against the fine-tuning arm's errors."""
    table = {a.name: [r for r in a.seeds if "test/acc" in r] for a in arms}
    table = {name: rows for name, rows in table.items() if rows}
    finetune = [a.name for a in arms if a.params.get("mode") == "finetune" and a.name in table]
    reference = finetune[0] if finetune else None
    rows = arm_rows(table, reference)
    if not rows:
        return None
    points = [
        {"label": r["arm"], "params": r["params"], "acc": r["acc"], "ci95": r["ci95"]} for r in rows
    ]
    accuracy_vs_params_plot(points, Path(out_dir) / "acc_vs_params.png")
    with open(Path(out_dir) / "acc_vs_params.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ref = f"against {reference}'s errors" if reference else "not computed: no finetune arm"
    lines = [f"Decathlon score ({ref}; test, mean over seeds):"]
    for r in rows:
        score = f"{r['score']:.0f} ± {r['score_ci95']:.0f}" if "score" in r else "—"
        lines.append(
            f"  {r['arm']}: {r['params']:.0f} params/domain, acc {r['acc']:.4f} ± "
            f"{r['ci95']:.2g}, score {score}"
        )
    scores = {f"{r['arm']}/test/score_mean": r["score"] for r in rows if "score" in r}
    return JobReport(metrics=scores, summary=lines)
