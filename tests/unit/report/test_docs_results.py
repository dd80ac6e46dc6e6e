"""The comparison tables in README.md and docs/ are their results records rendered
(results/*.json, `adaptune results render`): a hand edit, or a record made again without
rendering, fails here; every committed record is shown somewhere."""

from __future__ import annotations

import re

import pytest
from tests.conftest import ROOT

from adaptune.cli import main


def test_every_docs_table_is_its_record_rendered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["results", "render", "--check"]) == 0, capsys.readouterr().out


def test_every_record_is_shown_and_made_at_a_clean_commit() -> None:
    import json

    docs = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    shown = {m for d in docs for m in re.findall(r"<!-- results: (\S+) -->", d.read_text())}
    records = sorted((ROOT / "results").glob("*.json"))
    assert records, "no results record is committed"
    for path in records:
        assert path.stem in shown, f"{path.name} is rendered in no document"
        made = json.loads(path.read_text())["provenance"]
        assert made["commit"] and made["dirty"] is False, path.name
