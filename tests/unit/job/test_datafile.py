"""Data files are opened and sampled at validation: good files pass in every format, bad
ones are refused with one line that names the file and, where there is one, the row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from adaptune.job import datafile
from adaptune.job.datafile import DataFileError, inspect_file

DAO = {"text": "text", "score": "score"}
ROWS = [{"text": f"The euro rallied {i}", "score": (i % 21 - 10) / 10} for i in range(300)]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    frame = pd.DataFrame(rows)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1))
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
def test_every_supported_format_passes_and_counts_rows(tmp_path: Path, suffix: str) -> None:
    path = _write(tmp_path / f"news{suffix}", ROWS)
    assert inspect_file(path, DAO, {}, 10**6) == (len(ROWS), True)


@pytest.mark.parametrize(
    ("suffix", "where"),
    [
        (".csv", "line 5002"),
        (".jsonl", "line 5001"),
        (".json", "record 5001"),
        (".parquet", "row 5001"),
    ],
)
def test_every_row_is_checked_not_a_sample(tmp_path: Path, suffix: str, where: str) -> None:
    bad = {"text": "the dollar slid", "score": 7.0}
    rows = [*(ROWS * 17)[:5000], bad, *ROWS]  # the 5001st row is bad: past any sample
    path = _write(tmp_path / f"news{suffix}", rows)
    with pytest.raises(DataFileError, match=rf"{where}: column 'score': 7 is outside"):
        inspect_file(path, DAO, {}, 100)


def test_a_huge_file_is_checked_for_a_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datafile, "CHECK_SECONDS", 0.0)
    path = _write(tmp_path / "news.csv", [*ROWS * 10, {"text": "late", "score": 7.0}])
    assert inspect_file(path, DAO, {}, 2000) == (2000, False)  # stopped at row 1000
    assert inspect_file(path, DAO, {}, 10) == (1000, False)


def test_columns_map_our_names_to_the_files(tmp_path: Path) -> None:
    rows = [{"headline": r["text"], "sentiment": r["score"]} for r in ROWS]
    path = _write(tmp_path / "news.csv", rows)
    assert inspect_file(path, DAO, {"text": "headline", "score": "sentiment"}, 100)[0] >= 100
    plain = _write(tmp_path / "plain.csv", ROWS)
    with pytest.raises(DataFileError, match=r"column 'headline' \(for 'text'\)") as e:
        inspect_file(plain, DAO, {"text": "headline"}, 100)
    assert e.value.column == "text"


@pytest.mark.parametrize(
    ("rows", "kinds", "fragment"),
    [
        ([{"text": "a", "score": "x"}], DAO, "'x' is not a finite number"),
        ([{"text": "a", "score": float("inf")}], DAO, "is not a finite number"),
        ([{"text": "a", "score": -1.5}], DAO, "-1.5 is outside [-1, 1]"),
        ([{"text": None, "score": 0.1}], DAO, "column 'text': empty"),
        ([{"text": 12, "score": 0.1}, {"text": 13, "score": 0.2}], DAO, "holds numbers"),
        ([{"text": "a", "label": 1.5}], {"label": "class"}, "is not a class number"),
        ([{"text": "a", "labels": 3}], {"labels": "labels"}, "is not label names"),
        ([{"text": "a", "domain": "  "}], {"domain": "name"}, "column 'domain': empty"),
    ],
)
def test_bad_values_in_the_sample_are_named(
    tmp_path: Path, rows: list[dict[str, object]], kinds: dict[str, str], fragment: str
) -> None:
    path = _write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataFileError, match=r"bad\.jsonl: ") as e:
        inspect_file(path, kinds, {}, 10)
    assert fragment in str(e.value)


def test_a_jsonl_file_of_arrays_and_a_json_object_are_refused(tmp_path: Path) -> None:
    lists = tmp_path / "a.jsonl"
    lists.write_text("[1, 2]\n")
    with pytest.raises(DataFileError, match="line 1 is not a JSON object"):
        inspect_file(lists, DAO, {}, 10)
    scalar = tmp_path / "b.json"
    scalar.write_text('[1, 2, "x"]')
    with pytest.raises(DataFileError, match="expected a list of JSON objects"):
        inspect_file(scalar, DAO, {}, 10)


def test_a_file_with_only_a_header_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text("text,score\n")
    with pytest.raises(DataFileError, match="no rows"):
        inspect_file(path, DAO, {}, 10)


def test_a_fifo_is_not_opened(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "news.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataFileError, match="not a regular file"):
        inspect_file(fifo, DAO, {}, 10)
