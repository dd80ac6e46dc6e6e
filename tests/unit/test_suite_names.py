"""Test modules are imported by basename (pytest's default import mode, no __init__.py):
two files with one name stop the collection of the whole suite."""

from __future__ import annotations

from collections import Counter

from tests.conftest import ROOT


def test_test_file_basenames_are_unique() -> None:
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [n for n, k in names.items() if k > 1] == []
