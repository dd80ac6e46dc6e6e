"""`adaptune submit`'s preflight: the working_dir is measured as Ray would pack it and
refused over Ray's limit, naming the largest files; default excludes don't count."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.conftest import ROOT

from adaptune.cli import main
from adaptune.cluster import EXCLUDES
from adaptune.workdir import LIMIT_BYTES, check_size, measure


def _sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:  # a hole, not 100 MiB of disk
        f.truncate(size)


def test_excluded_folders_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('hi')\n")
    for folder in (".git", ".venv", ".adaptune", ".gpu", "__pycache__", ".mypy_cache"):
        _sparse(tmp_path / folder / "big.bin", LIMIT_BYTES + 1)
    _sparse(tmp_path / "pkg" / "__pycache__" / "m.pyc", LIMIT_BYTES + 1)  # nested too
    assert measure(tmp_path, EXCLUDES) == {"train.py": 12}
    assert check_size(tmp_path, EXCLUDES) == 12


def test_an_oversized_working_dir_is_refused_naming_its_largest_files(tmp_path: Path) -> None:
    _sparse(tmp_path / "data" / "corpus.bin", LIMIT_BYTES + 1)
    (tmp_path / "train.py").write_text("x = 1\n")
    with pytest.raises(ValueError) as refused:
        check_size(tmp_path, EXCLUDES)
    text = str(refused.value)
    assert "over Ray's 100.0 MiB limit" in text
    assert "100.0 MiB  data/corpus.bin" in text
    assert "--exclude" in text
    # the user's excludes are honoured
    assert check_size(tmp_path, [*EXCLUDES, "data/"]) == 6


def test_submit_refuses_an_oversized_project_before_any_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 (bad input, as a bad spec), no cluster contacted: nothing listens there."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    for rel in ("jobs/quickstart.yaml", "search_spaces/dao_quick.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    _sparse(tmp_path / "checkpoints" / "model.pt", 2 * LIMIT_BYTES)
    job = str(tmp_path / "jobs" / "quickstart.yaml")
    assert main(["submit", job, "--address", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "200.0 MiB  checkpoints/model.pt" in err
    assert "checkpoints/" in err
    assert check_size(tmp_path, [*EXCLUDES, "checkpoints/"]) < LIMIT_BYTES  # --exclude's fix
