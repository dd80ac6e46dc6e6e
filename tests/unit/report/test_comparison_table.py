"""A comparison's table, verdicts and docs blocks are computed from its results record
alone (report/comparison.py): every compared metric with its own interval and paired
tests, pairing by seed id, Holm within the job but for the primary contrast, and docs
tables that fail a check when edited by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adaptune.cli import main
from adaptune.methods import BUILTIN, get_method
from adaptune.report.comparison import comparison_rows, markdown, render

KEYS = ["test/map", "test/map_binarised", "test/macro_f1"]
SEEDS = (3069, 1051, 2060)


def _arm(name: str, maps: list[float], binarised: list[float]) -> dict[str, Any]:
    seeds = [
        {"seed": s, "val/map": 0.5, "test/map": m, "test/map_binarised": b, "test/macro_f1": b / 2}
        for s, m, b in zip(SEEDS, maps, binarised, strict=True)
    ]
    return {"name": name, "search": f"s-{name}", "val_best": 0.5, "seeds": seeds}


def _record(*arms: dict[str, Any], primary: list[str] | None = None) -> dict[str, Any]:
    return {
        "job": "cmp",
        "command": "adaptune search jobs/cmp.yaml",
        "objective": {"metric": "val/map", "mode": "max"},
        "metrics": KEYS,
        "primary": primary,
        "data_note": "data: the generated corpus `synthetic-multilabel`, synthetic.",
        "arms": list(arms),
        "provenance": {"commit": "0123456789abcdef", "dirty": False,
                       "machine": {"cpus": 2, "accelerator": "CPU only"}},
    }  # fmt: skip


RECORD = _record(
    _arm("source-only", [0.30, 0.29, 0.31], [0.28, 0.30, 0.29]),
    _arm("pu-bce", [0.79, 0.80, 0.78], [0.33, 0.31, 0.32]),
)


def test_every_compared_metric_gets_a_column_and_its_own_tests() -> None:
    rows, verdicts = comparison_rows(RECORD)
    assert [r["arm"] for r in rows] == ["source-only", "pu-bce"]
    for key in KEYS:
        assert rows[1][f"{key}_ci95"] is not None and rows[1]["seeds"] == 3
    assert abs(rows[0]["test/map_mean"] - 0.30) < 1e-9
    assert [v.split(":")[0] for v in verdicts] == KEYS
    table = markdown(RECORD, rows, verdicts)
    assert "test/map_binarised mean ± 95 % CI" in table[0]
    assert table[3].startswith("| pu-bce | 0.5 | 0.79 ± ")


def test_the_primary_contrast_is_read_alone_and_the_others_holm_adjusted() -> None:
    record = {**RECORD, "primary": ["pu-bce", "source-only"]}
    first, *rest = comparison_rows(record)[1]
    # the primary: candidate first, its own p, said to be the primary
    assert first.startswith("test/map: pu-bce vs source-only:") and "Holm" not in first
    assert "the primary contrast" in first
    assert all("Holm" in v and "primary" not in v for v in rest)


def test_seeds_one_arm_lacks_are_named_and_left_out() -> None:
    lost = _arm("b", [0.79, 0.80, 0.78], [0.33, 0.31, 0.32])
    lost["seeds"] = lost["seeds"][:2]  # seed 2060 lost
    _, verdicts = comparison_rows(_record(_arm("a", [0.3] * 3, [0.3] * 3), lost))
    assert all("seeds 2060 ran in one arm only, left out" in v for v in verdicts)
    assert all("2 seeds" in v for v in verdicts)


def test_compare_metrics_are_metrics_the_method_reports() -> None:
    for name in BUILTIN:
        method = get_method(name)
        assert set(method.compare_metrics) <= set(method.metrics), name


DOC = "# Results\n\nBefore.\n\n<!-- results: cmp -->\nstale\n<!-- /results -->\n\nAfter.\n"


def test_render_rewrites_only_the_marked_block_and_says_what_made_it() -> None:
    text = render(DOC, {"cmp": RECORD}, "doc.md")
    assert text.startswith("# Results\n\nBefore.\n\n<!-- results: cmp -->\n| arm |")
    assert text.endswith("<!-- /results -->\n\nAfter.\n") and "stale" not in text
    assert "`adaptune search jobs/cmp.yaml` (commit 0123456789" in text
    assert "synthetic" in text
    assert render(text, {"cmp": RECORD}) == text  # a rendered file renders to itself
    with pytest.raises(KeyError, match=r"doc\.md: no results record 'cmp'"):
        render(DOC, {}, "doc.md")


def test_the_check_fails_on_a_hand_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "cmp.json").write_text(json.dumps(RECORD))
    doc = tmp_path / "README.md"
    doc.write_text(DOC)
    monkeypatch.chdir(tmp_path)
    assert main(["results", "render", "--check"]) == 1  # stale: differs
    assert doc.read_text() == DOC  # --check changes nothing
    assert main(["results", "render"]) == 0
    assert main(["results", "render", "--check"]) == 0
    doc.write_text(doc.read_text().replace("| pu-bce | 0.5 | 0.79", "| pu-bce | 0.5 | 0.81"))
    assert main(["results", "render", "--check"]) == 1
    assert "README.md" in capsys.readouterr().out
