"""The per-domain report on TEST: verdicts per domain, the minimum test size, the tags,
the plot with intervals, and a job report that reads test (never val) metrics."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from adaptune.method import Arm
from adaptune.methods.dama.report import (
    DEGRADED,
    IMPROVED,
    SAME,
    TOO_FEW,
    ArmScores,
    domain_bar_plot,
    domain_verdicts,
    job_report,
    tagged,
)


def _seeds(acc: dict[str, list[float]], n: dict[str, int]) -> list[dict[str, float]]:
    k = len(next(iter(acc.values())))
    rows = []
    for i in range(k):
        row = {f"test/acc/{d}": v[i] for d, v in acc.items()}
        row.update({f"test/n/{d}": float(c) for d, c in n.items()})
        row["test/acc"] = sum(v[i] for v in acc.values()) / len(acc)
        rows.append(row)
    return rows


N = {"dvd": 400, "books": 400, "MR": 400, "baby": 20}
BASE = ArmScores.from_rows(
    "stage 1",
    _seeds(
        {
            "dvd": [0.80, 0.81, 0.79],
            "books": [0.70, 0.72, 0.71],
            "MR": [0.90, 0.90, 0.91],
            "baby": [0.50, 0.55, 0.60],
        },
        N,
    ),
)
CAND = ArmScores.from_rows(
    "stage 2",
    _seeds(
        {
            "dvd": [0.85, 0.862, 0.838],  # +0.05 give or take: a t-test has spread to work on
            "books": [0.66, 0.67, 0.665],
            "MR": [0.91, 0.89, 0.92],
            "baby": [0.90, 0.95, 0.92],
        },
        N,
    ),
)


def test_verdicts_use_paired_seeds_and_the_minimum_test_size() -> None:
    rows = {r["domain"]: r for r in domain_verdicts(BASE, CAND, tolerance=0.005, min_test=100)}
    assert rows["dvd"]["verdict"] == IMPROVED and rows["dvd"]["delta"] == pytest.approx(0.05)
    assert rows["books"]["verdict"] == DEGRADED
    assert rows["MR"]["verdict"] == SAME  # +0.003 mean, inside the seeds' noise
    # 20 test examples: no verdict, however large the difference looks
    assert rows["baby"]["verdict"] == TOO_FEW and rows["baby"]["n_test"] == 20
    assert rows["dvd"]["seeds"] == 3 and rows["dvd"]["p"] < 0.05


def test_one_seed_falls_back_to_the_binomial_noise_of_the_test_examples() -> None:
    one = lambda a: ArmScores.from_rows("x", _seeds({"dvd": [a]}, {"dvd": 400}))  # noqa: E731
    small = domain_verdicts(one(0.80), one(0.82))[0]  # 2 points on 400: inside the noise
    large = domain_verdicts(one(0.80), one(0.90))[0]
    assert small["verdict"] == SAME and math.isnan(small["p"])
    assert large["verdict"] == IMPROVED


def test_tags_list_domains_or_say_none_or_too_few() -> None:
    rows = domain_verdicts(BASE, CAND, min_test=100)
    assert tagged(rows, IMPROVED) == "dvd" and tagged(rows, DEGRADED) == "books"
    assert tagged([r for r in rows if r["domain"] == "MR"], DEGRADED) == "none"
    assert tagged(domain_verdicts(BASE, CAND, min_test=10_000), DEGRADED) == TOO_FEW
    with pytest.raises(ValueError):
        domain_verdicts(BASE, CAND, tolerance=-1)


def test_bar_plot_draws_one_bar_per_arm_and_domain_with_error_bars(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fig = domain_bar_plot([BASE, CAND])
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * 4
    assert [t.get_text() for t in ax.get_xticklabels()] == ["dvd", "books", "MR", "baby"]
    bars = [c for c in ax.containers if type(c).__name__ == "BarContainer"]
    assert len(bars) == 2 and all(c.errorbar is not None for c in bars)
    fig.savefig(tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0


def _arm(name: str, scores: ArmScores, stage2: str) -> Arm:
    # The best run's val numbers say the opposite of test: the report must not care.
    val = {"val/acc/books": 0.99, "val/acc/dvd": 0.1, "val/acc": 0.5, "test/acc": 0.0}
    seeds = [{"seed": float(i), **row} for i, row in enumerate(_seeds(_values(scores), N))]
    return Arm(name, {"stage2_epochs": stage2}, val, seeds)


def _values(scores: ArmScores) -> dict[str, list[float]]:
    return {d: list(by_seed.values()) for d, by_seed in scores.per_domain.items()}


def test_job_report_tags_domains_from_the_test_split_of_the_reruns(tmp_path: Path) -> None:
    arms = [_arm("gamma", BASE, "0"), _arm("s2", CAND, "2")]
    out = job_report(arms, str(tmp_path), min_test=100)
    assert out is not None
    assert out.tags == {"improved_domains": "dvd", "degraded_domains": "books"}
    assert {"domains.csv", "domains.png"} <= {p.name for p in tmp_path.iterdir()}
    assert out.metrics["last_stage/test/acc"] == pytest.approx(sum(CAND.overall) / 3)
    assert out.metrics["last_stage/val/acc"] == 0.5  # kept beside the test number
    assert "improved dvd; degraded books" in out.summary[0]


def test_seeds_pair_by_id_so_a_lost_rerun_drops_its_pair_not_shifts_them() -> None:
    def arm(name: str, scores: dict[int, float]) -> ArmScores:
        rows = [{"seed": s, "test/acc/dvd": v, "test/n/dvd": 400} for s, v in scores.items()]
        return ArmScores.from_rows(name, rows)

    base = arm("a", {1: 0.80, 2: 0.70, 3: 0.90})
    lost = arm("b", {1: 0.81, 3: 0.91})  # seed 2's re-run was lost
    [row] = domain_verdicts(base, lost)
    assert row["seeds"] == 2 and row["delta"] == pytest.approx(0.01)  # by position: +0.11


def test_no_report_for_one_arm_and_a_note_without_per_domain_scores(tmp_path: Path) -> None:
    assert job_report([_arm("gamma", BASE, "0")], str(tmp_path)) is None
    bare = [Arm("a", {}, {}, [{"seed": 0.0, "test/acc": 0.5}])] * 2
    out = job_report(bare, str(tmp_path))
    assert out is not None and not out.tags and "no test/acc/<domain>" in out.summary[0]
