"""The package's contract line: adaptune's own checks, on toy sizes, in this process."""

from __future__ import annotations

from pathlib import Path

from adaptune_dann import METHOD

from adaptune.contract import check_method

HERE = Path(__file__).resolve().parent.parent


def test_dann_keeps_the_adaptune_contract(tmp_path: Path) -> None:
    report = check_method(
        METHOD,
        config={"epochs": 2, "batch_size": 16, "max_len": 16},
        data={"source": "synthetic-multidomain", "n_train": 192, "options": {"domains": 4}},
        spaces=[HERE / "space.yaml"],
        cache_dir=str(tmp_path / "cache"),
    )
    assert report.steps >= 2 and 0.0 <= report.metrics["val/acc"] <= 1.0
