"""A comparison tables every metric a method's claims are read from, each with its own
interval and paired tests (DALLMi: continuous and binarised mAP and macro-F1)."""

from __future__ import annotations

import dataclasses

from tests.conftest import ROOT

from adaptune.driver.compare import _markdown, comparison_rows
from adaptune.driver.results import SearchSummary
from adaptune.job.spec import load_job
from adaptune.methods import BUILTIN, get_method
from adaptune.plan import make_plans


def _summary(arm: str, maps: list[float], binarised: list[float]) -> SearchSummary:
    reruns = [
        {"seed": s, "test/map": m, "test/map_binarised": b, "test/macro_f1": b / 2}
        for s, m, b in zip((3069, 1051, 2060), maps, binarised, strict=True)
    ]
    return SearchSummary(
        search=arm, parent_run_id="run", tracking_uri="sqlite://", metric="val/map", mode="max",
        best_value=0.5, reruns=reruns,
    )  # fmt: skip


def test_every_compare_metric_gets_a_column_and_its_own_tests() -> None:
    plans = make_plans(load_job(ROOT / "jobs/dallmi_compare.yaml"))[:2]
    summaries = [
        _summary("source-only", [0.30, 0.29, 0.31], [0.28, 0.30, 0.29]),
        _summary("pu-bce", [0.79, 0.80, 0.78], [0.33, 0.31, 0.32]),
    ]
    rows, verdicts = comparison_rows(plans, summaries)
    assert [r["arm"] for r in rows] == ["source-only", "pu-bce"]
    for key in ("test/map", "test/map_binarised", "test/macro_f1"):
        assert rows[1][f"{key}_ci95"] is not None and rows[1]["seeds"] == 3
    # the re-runs pair up by seed, whatever order they finished in
    assert abs(rows[0]["test/map_mean"] - 0.30) < 1e-9
    assert [v.split(":")[0] for v in verdicts] == [
        "test/map",
        "test/map_binarised",
        "test/macro_f1",
    ]
    table = _markdown(plans[0], rows, verdicts)
    assert "test/map_binarised mean ± 95 % CI" in table[0]
    assert table[3].startswith("| pu-bce | 0.5 | 0.79 ± ")


def test_compare_metrics_are_metrics_the_method_reports() -> None:
    for name in BUILTIN:
        method = get_method(name)
        assert set(method.compare_metrics) <= set(method.metrics), name


def test_the_primary_contrast_is_read_alone_and_the_others_holm_adjusted() -> None:
    job = load_job(ROOT / "jobs/dallmi_compare.yaml")
    arms = [a.name for a in job.arms or []][:2]
    job = job.model_copy(update={"primary": (arms[1], arms[0])})
    plans = make_plans(job)[:2]
    summaries = [
        _summary(arms[0], [0.30, 0.29, 0.31], [0.28, 0.30, 0.29]),
        _summary(arms[1], [0.79, 0.80, 0.78], [0.33, 0.31, 0.32]),
    ]
    _, verdicts = comparison_rows(plans, summaries)
    first, *rest = verdicts
    # the primary: candidate first, its own p, said to be the primary
    assert first.startswith(f"test/map: {arms[1]} vs {arms[0]}:") and "Holm" not in first
    assert "the primary contrast" in first
    assert all("Holm" in v and "primary" not in v for v in rest)


def test_seeds_one_arm_lacks_are_named_and_left_out() -> None:
    plans = make_plans(load_job(ROOT / "jobs/dallmi_compare.yaml"))[:2]
    lost = _summary("b", [0.79, 0.80, 0.78], [0.33, 0.31, 0.32])
    lost = dataclasses.replace(lost, reruns=lost.reruns[:2])  # seed 2060 lost
    _, verdicts = comparison_rows(plans, [_summary("a", [0.3] * 3, [0.3] * 3), lost])
    assert all("seeds 2060 ran in one arm only, left out" in v for v in verdicts)
    assert all("2 seeds" in v for v in verdicts)
