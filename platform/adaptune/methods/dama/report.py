"""Per-domain TEST accuracy of DAMA's stages or comparison arms, and the improved /
degraded domains, decided on the held-out test split (never on the dev split that
Algorithm 1 and the search select on).

    base = ArmScores.from_rows("stage 1", arm.seeds)   # {"seed": s, "test/acc/<d>": ...}
    cand = ArmScores.from_rows("stage 2", [...])
    rows = domain_verdicts(base, cand, tolerance=0.005, min_test=100)
    fig = domain_bar_plot([base, cand])     # mean ± 95 % CI per domain; fig.savefig(...)

Inputs are test metric dicts (``seed``, ``test/acc/<domain>``, ``test/n/<domain>``,
``test/acc``), one per seed (a seeded re-run) or a single one (the best trial). A domain
with fewer than `min_test` test examples gets the verdict "too few examples to tell";
otherwise, with two or more seeds both arms ran a paired t-test on those seeds decides
(paired by seed id, never by position), else a two-proportion interval on the test
examples; a difference inside `tolerance` is never a change.

    report = job_report(arms, out_dir)      # Method.job_report: domains.{csv,png}, tags
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptune.method import Arm, JobReport
from adaptune.stats import Comparison, adjusted, by_seed, paired, summarize

ACC, COUNT = "test/acc/", "test/n/"
MIN_TEST = 100  # test examples a domain needs before a verdict on it
TOO_FEW = "too few examples to tell"
# SAME: not significant (Holm across the domains) at the seeds run, not "equal"
IMPROVED, DEGRADED, SAME = "improved", "degraded", "inconclusive"


@dataclass
class ArmScores:
    """One stage's or arm's per-domain test accuracies, by seed."""

    name: str
    per_domain: dict[str, dict[int, float]] = field(default_factory=dict)  # domain -> seed ->
    counts: dict[str, int] = field(default_factory=dict)
    overall: list[float] = field(default_factory=list)

    @classmethod
    def from_rows(cls, name: str, rows: list[dict[str, float]]) -> ArmScores:
        out = cls(name)
        for i, row in enumerate(rows):
            seed = int(row.get("seed", i))
            for key, value in row.items():
                if key.startswith(ACC):
                    out.per_domain.setdefault(key[len(ACC) :], {})[seed] = float(value)
                elif key.startswith(COUNT):
                    out.counts[key[len(COUNT) :]] = int(value)
            if "test/acc" in row:
                out.overall.append(float(row["test/acc"]))
        return out

    def mean_ci(self, domain: str) -> tuple[float, float]:
        s = summarize(list(self.per_domain[domain].values()))
        return s.mean, 0.0 if math.isnan(s.ci95) else s.ci95


def domain_verdicts(
    base: ArmScores, cand: ArmScores, tolerance: float = 0.005, min_test: int = MIN_TEST
) -> list[dict[str, Any]]:
    """One row per domain both arms score: n_test, means, delta (cand - base), p, its
    Holm adjustment across the domains (the verdicts read it), verdict."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    rows: list[dict[str, Any]] = []
    tested: list[tuple[dict[str, Any], Comparison]] = []
    for domain, b in base.per_domain.items():
        c = cand.per_domain.get(domain)
        if not c:
            continue
        n = min(base.counts.get(domain, 0), cand.counts.get(domain, 0))
        bs, cs = by_seed(b, c)  # the seeds both arms ran
        k = len(bs)
        if not k:
            bs, cs = [*b.values()], [*c.values()]
        mb, mc = sum(bs) / len(bs), sum(cs) / len(cs)
        row: dict[str, Any] = {"domain": domain, "n_test": n, base.name: mb, cand.name: mc}
        row["delta"] = mc - mb
        rows.append({**row, "p": math.nan, "p_holm": None, "seeds": k, "verdict": TOO_FEW})
        if n >= min_test and k >= 2:
            tested.append((rows[-1], paired(cs, bs)))
        elif n >= min_test:  # one seed: the difference against its binomial noise on n
            se = math.sqrt(max(mb * (1 - mb) + mc * (1 - mc), 1e-12) / n)
            rows[-1]["verdict"] = _verdict(abs(mc - mb) > 1.96 * se, mc - mb, tolerance)
    for (row, _), test in zip(tested, adjusted([t for _, t in tested]), strict=True):
        row["p"], row["p_holm"] = test.p, test.p_holm
        row["verdict"] = _verdict(test.significant, row["delta"], tolerance)
    return rows


def _verdict(real: bool, delta: float, tolerance: float) -> str:
    if real and delta > tolerance:
        return IMPROVED
    return DEGRADED if real and delta < -tolerance else SAME


def tagged(rows: list[dict[str, Any]], verdict: str) -> str:
    """The tag value: the domains with `verdict`, or "none" (or TOO_FEW if no domain
    had enough test examples for any verdict)."""
    names = [r["domain"] for r in rows if r["verdict"] == verdict]
    if not names and rows and all(r["verdict"] == TOO_FEW for r in rows):
        return TOO_FEW
    return ",".join(names) or "none"


def domain_bar_plot(arms: list[ArmScores], title: str = "DAMA per-domain test accuracy") -> Any:
    """Grouped bars per domain, one per arm, with 95 % CI error bars over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    domains = [d for d in arms[0].per_domain if all(d in a.per_domain for a in arms)]
    fig = Figure(figsize=(max(7.0, 0.75 * len(domains) * max(1, len(arms)) / 2), 4.2))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(arms))
    low = 1.0
    for i, arm in enumerate(arms):
        stats = [arm.mean_ci(d) for d in domains]
        xs = [j + (i - (len(arms) - 1) / 2) * width for j in range(len(domains))]
        ax.bar(
            xs,
            [m for m, _ in stats],
            width=width,
            label=arm.name,
            yerr=[c for _, c in stats],
            capsize=2,
        )
        low = min([low, *(m - c for m, c in stats)])
    ax.set_xticks(list(range(len(domains))), domains, rotation=60, ha="right")
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.set_ylabel("test accuracy (mean ± 95 % CI)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _modulating(params: dict[str, str]) -> bool:
    return params.get("stage") == "2" or int(params.get("stage2_epochs", "0") or 0) > 0


def job_report(
    arms: list[Arm], out_dir: str, tolerance: float = 0.005, min_test: int = MIN_TEST
) -> JobReport | None:
    """Method.job_report for stage jobs and comparison jobs: per-domain test accuracy of
    every stage / arm (domains.{csv,png}); the improved / degraded tags compare the first
    stage-2 arm (or the last stage) with the stage-1 arm before it."""
    if len(arms) < 2:
        return None
    scores = [ArmScores.from_rows(a.name, a.seeds) for a in arms]
    if not all(s.per_domain for s in scores):
        return JobReport(summary=["per-domain: no test/acc/<domain> metrics on the best runs"])
    mod = [_modulating(a.params) for a in arms]
    cand = mod.index(True) if True in mod and False in mod[: mod.index(True)] else len(arms) - 1
    base = max((i for i in range(cand) if not mod[i]), default=0)
    rows = domain_verdicts(scores[base], scores[cand], tolerance, min_test)
    with open(Path(out_dir, "domains.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_table_fields(scores))
        writer.writeheader()
        writer.writerows(_table(scores, rows))
    domain_bar_plot(scores).savefig(Path(out_dir, "domains.png"), dpi=110)
    metrics = {}
    for i, key in ((base, "stage1"), (cand, "last_stage")):
        if scores[i].overall:
            metrics[f"{key}/test/acc"] = summarize(scores[i].overall).mean
        if "val/acc" in arms[i].metrics:
            metrics[f"{key}/val/acc"] = arms[i].metrics["val/acc"]
    few = [r["domain"] for r in rows if r["verdict"] == TOO_FEW]
    line = (
        f"per-domain on test, {scores[cand].name} vs {scores[base].name}: "
        f"improved {tagged(rows, IMPROVED)}; degraded {tagged(rows, DEGRADED)}"
        + (f"; {TOO_FEW} (< {min_test} test examples): {', '.join(few)}" if few else "")
        + "; table and plot in the job run's report/"
    )
    tags = {"improved_domains": tagged(rows, IMPROVED), "degraded_domains": tagged(rows, DEGRADED)}
    return JobReport(tags=tags, metrics=metrics, summary=[line])


def _table_fields(arms: list[ArmScores]) -> list[str]:
    cols = [c for a in arms for c in (f"{a.name} mean", f"{a.name} ci95")]
    return ["domain", "n_test", *cols, "delta", "p", "p_holm", "verdict"]


def _table(arms: list[ArmScores], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        row = {k: r[k] for k in ("domain", "n_test", "delta", "p", "p_holm")}
        for a in arms:
            if r["domain"] in a.per_domain:
                row[f"{a.name} mean"], row[f"{a.name} ci95"] = a.mean_ci(r["domain"])
        out.append({**row, "verdict": r["verdict"]})
    return out
