"""Real-data loaders (Hugging Face `datasets`) on local files, with column mappings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from adaptune.data import load_records
from adaptune.job.spec import DataSpec
from adaptune.methods import get_method
from adaptune.methods.dao.config import DAOConfig

ROWS = [{"headline": f"The euro rallied {i}", "sentiment": i / 10} for i in range(-5, 6)]


def _write(tmp_path: Path, suffix: str) -> Path:
    path = tmp_path / f"news{suffix}"
    frame = pd.DataFrame(ROWS)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS))
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_file_loader_maps_columns(tmp_path: Path, suffix: str) -> None:
    spec = DataSpec(
        source="file",
        path=str(_write(tmp_path, suffix)),
        n_train=20,
        columns={"text": "headline", "score": "sentiment"},
    )
    rec = load_records(spec, needed=("text", "score"))
    assert rec["text"][0] == "The euro rallied -5" and rec["score"][-1] == pytest.approx(0.5)


def test_missing_column_is_named(tmp_path: Path) -> None:
    spec = DataSpec(source="file", path=str(_write(tmp_path, ".csv")), n_train=20)
    with pytest.raises(KeyError, match=r"column 'text' .* columns: \['headline', 'sentiment'\]"):
        load_records(spec, needed=("text", "score"))


def test_dao_trains_on_a_csv_file(tmp_path: Path) -> None:
    spec = DataSpec(
        source="file",
        path=str(_write(tmp_path, ".csv")),
        n_train=20,
        columns={"text": "headline", "score": "sentiment"},
    )
    train, val, test, info = get_method("dao").build_data(DAOConfig(max_len=16), spec, None)
    assert len(train) + len(val) + len(test) == len(ROWS) and info["n_val"] == 1
    assert info["n_test"] == len(test) >= 1  # a stratified share, carved off first
