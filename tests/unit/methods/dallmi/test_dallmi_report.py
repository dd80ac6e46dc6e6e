"""DALLMi's search report: the mode x label-availability comparison table, and the
label-availability and per-label metrics it reads."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adaptune.job.spec import DataSpec
from adaptune.methods.dallmi.config import DALLMiConfig
from adaptune.methods.dallmi.metrics import MAX_LABEL_METRICS, metric_name, per_label_metrics
from adaptune.methods.dallmi.report import comparison, pivot_markdown, search_report
from adaptune.methods.dallmi.step import effective_revealed


def _row(
    tid: str,
    mode: str,
    revealed: float | None,
    m: float,
    seed: int = 42,
    lr: float = 1e-4,
    outcome: str = "completed",
) -> dict[str, Any]:
    return {
        "trial_id": tid,
        "outcome": outcome,
        "config": {"mode": mode, "revealed": revealed, "seed": seed, "lr": lr, "epochs": 3},
        "metrics": {
            "val/map": m,
            "val/macro_f1": m / 2,
            "val/ap/genetics": m + 0.01,
            "epoch": 3,
            "train/loss": 0.5,
        },
    }


GRID = [
    _row(f"t{i}", mode, rate, 0.5 + 0.1 * i)
    for i, (mode, rate) in enumerate(
        (mode, rate) for mode in ("source_only", "pu_bce", "dallmi") for rate in (0.5, 0.1, 0.3)
    )
]


def test_one_cell_per_mode_and_rate_in_table_order() -> None:
    cells = comparison(GRID)
    assert [(c.mode, c.revealed) for c in cells] == [
        (mode, rate) for mode in ("dallmi", "pu_bce", "source_only") for rate in (0.1, 0.3, 0.5)
    ]
    first = cells[0]  # dallmi at 10 %: the 8th row (i = 7)
    assert first.trial_ids == ("t7",) and first.n == 1
    assert first.mean["val/map"] == pytest.approx(1.2) and first.std["val/map"] == 0.0
    assert "epoch" not in first.mean and "train/loss" not in first.mean  # val/ metrics only


def test_the_pivot_has_modes_as_rows_and_rates_as_columns() -> None:
    table = pivot_markdown(comparison(GRID)).splitlines()
    assert table[0] == "| mode | 10 % | 30 % | 50 % |"
    assert table[2] == "| DALLMi | 1.200 | 1.300 | 1.100 |"
    assert table[3] == "| PU-BCE | 0.900 | 1.000 | 0.800 |"
    assert table[4] == "| source-only | 0.600 | 0.700 | 0.500 |"


def test_seeds_average_and_the_best_other_setting_wins() -> None:
    rows = [
        _row("a", "dallmi", 0.3, 0.80, seed=1),
        _row("b", "dallmi", 0.3, 0.90, seed=2),
        _row("c", "dallmi", 0.3, 0.84, lr=5e-5),  # another lr: one seed, mean 0.84 < 0.85
        _row("d", "pu_bce", 0.3, 0.70, seed=1),
        _row("e", "pu_bce", 0.3, 0.99, seed=2, outcome="stopped"),  # not completed: ignored
        _row("f", "pu_bce", 0.3, 0.99, seed=3, outcome="errored"),
    ]
    dallmi, pu_bce = comparison(rows)
    assert dallmi.trial_ids == ("a", "b")
    assert dallmi.mean["val/map"] == pytest.approx(0.85)
    assert dallmi.std["val/map"] == pytest.approx(float(np.std([0.8, 0.9], ddof=1)))
    assert pu_bce.trial_ids == ("d",)
    table = pivot_markdown([dallmi, pu_bce])
    assert "| DALLMi | 0.850 ± 0.071 |" in table and "| PU-BCE | 0.700 |" in table


def test_a_missing_cell_is_a_dash_and_an_unset_rate_is_named() -> None:
    table = pivot_markdown(
        comparison([_row("a", "dallmi", 0.1, 0.9), _row("b", "pu_bce", None, 0.5)])
    )
    assert table.splitlines()[0] == "| mode | data.options | 10 % |"
    assert "| DALLMi | – | 0.900 |" in table and "| PU-BCE | 0.500 | – |" in table


def test_search_report_writes_csv_markdown_and_png(tmp_path: Path) -> None:
    search_report(GRID, str(tmp_path))
    assert {p.name for p in tmp_path.iterdir()} == {
        "comparison.csv",
        "comparison.md",
        "comparison.png",
    }
    with open(tmp_path / "comparison.csv") as f:
        lines = list(csv.DictReader(f))
    assert len(lines) == 9
    assert lines[0]["mode"] == "dallmi" and float(lines[0]["revealed"]) == 0.1
    assert float(lines[0]["val/map"]) == pytest.approx(1.2)
    assert float(lines[0]["val/ap/genetics"]) == pytest.approx(1.21)
    assert lines[0]["n"] == "1" and lines[0]["trial_ids"] == "t7"
    md = (tmp_path / "comparison.md").read_text()
    assert "## Target mAP (val/map)" in md and "| genetics |" in md
    assert (tmp_path / "comparison.png").stat().st_size > 1000


def test_a_search_that_varied_neither_mode_nor_rate_gets_no_report(tmp_path: Path) -> None:
    rows = [_row("a", "dallmi", None, 0.8, lr=1e-4), _row("b", "dallmi", None, 0.9, lr=5e-5)]
    assert len(comparison(rows)) == 1
    search_report(rows, str(tmp_path))
    assert not list(tmp_path.iterdir())
    search_report([], str(tmp_path))
    assert not list(tmp_path.iterdir())


def test_the_config_rate_overrides_the_data_option() -> None:
    data = DataSpec(source="synthetic-multilabel", options={"revealed": 0.2})
    assert effective_revealed(DALLMiConfig(), data) == 0.2
    assert effective_revealed(DALLMiConfig(revealed=0.5), data) == 0.5
    assert effective_revealed(DALLMiConfig(), DataSpec(source="synthetic-multilabel")) == 0.3
    with pytest.raises(ValueError, match="revealed"):
        DALLMiConfig(revealed=0.0)


def test_per_label_ap_metrics_are_named_safely_and_skip_nan() -> None:
    out = per_label_metrics(["cs.AI", "a:b/c", "empty"], [0.5, 0.25, float("nan")])
    assert out == {"val/ap/cs.AI": 0.5, "val/ap/a_b_c": 0.25}
    assert metric_name("") == "val/ap/_"
    many = [f"l{i}" for i in range(MAX_LABEL_METRICS + 1)]
    assert per_label_metrics(many, [0.5] * len(many)) == {}
