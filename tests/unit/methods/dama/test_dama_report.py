"""The per-domain report on TEST: verdicts per domain, the minimum test size, the tags,
the plot with intervals, and a job report that reads test (never val) metrics."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

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
            "dvd": [0.85, 0.86, 0.84],
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


class FakeClient:
    """The few MlflowClient calls job_report makes: a job run with two arms, their best
    runs (val AND test metrics) and each arm's seeded re-runs (test metrics)."""

    def __init__(self) -> None:
        self.runs: dict[str, Any] = {}
        self.tags: dict[str, str] = {}
        self.metrics: dict[str, float] = {}
        self.artifacts: list[str] = []
        self._run("job", {}, {}, {"adaptune.arms": "gamma,s2"})
        for arm, scores, stage2 in (("gamma", BASE, "0"), ("s2", CAND, "2")):
            # The best runs' val numbers say the opposite of test: the report must not care.
            val = {"val/acc/books": 0.99, "val/acc/dvd": 0.1, "val/acc": 0.5}
            self._run(
                f"{arm}-best",
                {**val, "test/acc": 0.0},
                {"stage2_epochs": stage2},
                {"mlflow.parentRunId": f"{arm}-search"},
            )
            for i, row in enumerate(_seeds(scores.per_domain, N)):
                self._run(
                    f"{arm}-r{i}",
                    row,
                    {"seed": str(i), "stage2_epochs": stage2},
                    {"mlflow.parentRunId": f"{arm}-search", "adaptune.kind": "rerun"},
                )

    def _run(self, rid: str, metrics: dict, params: dict, tags: dict) -> None:
        data = SimpleNamespace(metrics=metrics, params=params, tags=tags)
        self.runs[rid] = SimpleNamespace(
            data=data, info=SimpleNamespace(experiment_id="0", run_id=rid)
        )

    def get_run(self, rid: str) -> Any:
        return self.runs[rid]

    def search_runs(self, _exp: list[str], filter_string: str, max_results: int) -> list[Any]:
        parent = filter_string.split("'")[1]
        return [
            r
            for r in self.runs.values()
            if r.data.tags.get("mlflow.parentRunId") == parent
            and r.data.tags.get("adaptune.kind") == "rerun"
        ]

    def log_artifacts(self, _rid: str, local: str, artifact_path: str) -> None:
        import os

        self.artifacts += [f"{artifact_path}/{f}" for f in os.listdir(local)]

    def set_tag(self, _rid: str, key: str, value: str) -> None:
        self.tags[key] = value

    def log_metric(self, _rid: str, key: str, value: float) -> None:
        self.metrics[key] = value


def test_job_report_tags_domains_from_the_test_split_of_the_reruns() -> None:
    client = FakeClient()
    job_report(client, "job", ["gamma-best", "s2-best"], min_test=100)
    assert client.tags["adaptune.improved_domains"] == "dvd"
    assert client.tags["adaptune.degraded_domains"] == "books"
    assert {"report/domains.csv", "report/domains.png"} <= set(client.artifacts)
    assert client.metrics["last_stage/test/acc"] == pytest.approx(sum(CAND.overall) / 3)
    assert "last_stage/val/acc" in client.metrics  # kept beside the test number
