"""Bad input: every malformed job spec and search space in ``tests/data/bad_specs`` gives
ONE error naming file, line and key, exits 2 from ``validate`` and from ``search``, and
starts nothing (no Ray, no MLflow store, no state folder).

Each corpus job opens with ``# expect: <fragment>`` lines; the first fragment is the
error's ``file:line: key: ...`` head. Search-space cases are jobs that point at a broken
file under ``bad_specs/spaces/``, so their expected file is that space file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import ray
from tests.conftest import ROOT

from adaptune.cli import main
from adaptune.driver import run as search_run
from adaptune.driver import stages

CORPUS = ROOT / "tests" / "data" / "bad_specs"
CASES = sorted(CORPUS.glob("*.yaml"))
FILE_LINE_KEY = re.compile(r"[\w./-]+\.yaml:\d+: [\w.<>]+")


def expected(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    return [ln.removeprefix("# expect: ") for ln in lines if ln.startswith("# expect: ")]


def test_the_corpus_covers_many_cases_each_with_file_line_and_key() -> None:
    assert len(CASES) >= 25
    for path in CASES:
        fragments = expected(path)
        assert fragments, f"{path.name}: no '# expect:' line"
        assert FILE_LINE_KEY.match(fragments[0]), f"{path.name}: {fragments[0]!r}"


@pytest.fixture
def nothing_may_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A case that slipped through validation must fail here, not start a real search."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a bad spec reached the search")

    monkeypatch.setattr(search_run, "run_search", refuse)
    monkeypatch.setattr(stages, "run_stages", refuse)


@pytest.mark.usefixtures("nothing_may_start")
@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_bad_spec_gives_one_clear_error_and_exit_2(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fragments = expected(path)
    for command in ("validate", "search"):
        code = main([command, str(path)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, (command, err)
        assert len(err) == 1, (command, err)  # one problem, one line
        missing = [f for f in fragments if f not in err[0]]
        assert not missing, (command, err[0])
    assert not ray.is_initialized()
    assert mlflow.active_run() is None
    assert not Path(os.environ["ADAPTUNE_HOME"]).exists()  # no state, no mlflow.db
    assert not list(tmp_path.rglob("mlflow.db"))


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ADAPTUNE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "adaptune", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_validate_in_a_subprocess_names_every_problem(tmp_path: Path) -> None:
    proc = _cli("validate", *(str(p.relative_to(ROOT)) for p in CASES), home=tmp_path / "h")
    assert proc.returncode == 2
    problems = [ln for ln in proc.stderr.splitlines() if FILE_LINE_KEY.match(ln)]
    assert len(problems) == len(CASES), proc.stderr
    for path in CASES:
        assert expected(path)[0] in proc.stderr, path.name
    assert not (tmp_path / "h").exists()


def test_search_in_a_subprocess_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    path = CORPUS / "infeasible_workers.yaml"
    proc = _cli("search", str(path), home=tmp_path / "h")
    assert proc.returncode == 2, proc.stderr
    assert expected(path)[0] in proc.stderr
    assert "preparing data" not in proc.stdout and "search " not in proc.stdout
    assert not (tmp_path / "h").exists()
