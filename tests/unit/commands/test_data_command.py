"""`adaptune data JOB`: sizes, classes and domains per split, and the warnings (a
duplicate planted across train and test, a class missing from a split, a domain
smaller than one batch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import write

from adaptune.cli import main
from adaptune.data.checks import check_splits

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_a_duplicate_planted_across_train_and_test_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (FIXTURES / "phrasebank" / "Sentences_AllAgree.txt").read_text("latin-1")
    write(tmp_path / "train.txt", lines)
    # the test file: two of train's sentences (one re-spaced and re-cased) and a new one
    planted = (
        "OPERATING profit rose to EUR 13.1 mn  from EUR 8.7 mn in the corresponding "
        "period in 2007 .@positive"
    )
    test = "\n".join([planted, lines.splitlines()[2], "A new sentence .@neutral"])
    write(tmp_path / "test.txt", test + "\n")
    job = write(
        tmp_path / "job.yaml",
        "name: pb\nmethod: dao\n"
        "data: {source: phrasebank, path: train.txt, test_path: test.txt}\n"
        "fixed: {batch_size: 4}\n"
        "search: {space: {lr: {type: float, low: 1.0e-5, high: 1.0e-3}}}\n",
    )
    assert main(["data", str(job), "--json", str(tmp_path / "out.json")]) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    printed = capsys.readouterr().out
    assert out["summary"]["test"]["size"] == 3
    assert out["summary"]["train"]["size"] + out["summary"]["val"]["size"] == 24
    pairs = out["duplicates"]
    assert sum(pairs.get(k, 0) for k in ("train/test", "val/test")) == 2
    assert "warning: " in printed and "Operating profit rose" in printed
    assert out["summary"]["test"]["labels"] == {"0": 1, "2": 1, "4": 1}  # Eq. 4's classes


def test_a_bad_job_is_bad_input(tmp_path: Path) -> None:
    job = write(
        tmp_path / "job.yaml",
        "name: pb\nmethod: dao\ndata: {source: phrasebank, path: missing.txt}\n"
        "search: {space: {lr: {type: float, low: 1.0e-5, high: 1.0e-3}}}\n",
    )
    assert main(["data", str(job)]) == 2


def test_missing_classes_and_small_domains_are_warned() -> None:
    splits = {
        "train": {"text": ["a", "b", "c"], "label": [0, 1, 1], "domain": ["x", "x", "y"]},
        "test": {"text": ["d"], "label": [1], "domain": ["x"]},
    }
    report = check_splits(splits, batch_size=2)
    assert report.summary["train"] == {
        "size": 3,
        "labels": {"0": 1, "1": 2},
        "domains": {"x": 2, "y": 1},
    }
    assert not report.duplicates
    assert any(w.startswith("test: no example of 0") for w in report.warnings)
    assert any("domain 'y' has 1 examples" in w for w in report.warnings)
    multi = check_splits(
        {
            "train": {"text": ["a"], "label": [["p", "q"]]},
            "test": {"text": [" A "], "label": [["p"]]},
        },
        batch_size=1,
    )
    assert multi.summary["train"]["labels"] == {"p": 1, "q": 1}
    assert multi.duplicates == {"train/test": 1}
