"""validate and search refuse a warm start naming a search the local store lacks, before
Ray starts, listing the searches there; they read MLflow's SQLite file read-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ROOT

from adaptune import tracking
from adaptune.cli import main
from adaptune.tracking.names import Kind, Tag

JOB = """name: warm
method: dao
data: {{source: synthetic-finsent, n_train: 50}}
fixed: {{epochs: 2}}
search:
  space: {space}
  num_samples: 2
  warm_start: {{from: {name}}}
"""


def _store(state: Path) -> None:
    client = tracking.setup(tracking.resolve_uri(None, state))
    exp = tracking.ensure_experiment(client, "warm", state)
    for search, job, done in (
        ("dao-20260101-1", "dao", True),
        ("other-20260102-2", "other", False),
    ):
        run = client.create_run(exp, tags={Tag.KIND: Kind.SEARCH, Tag.SEARCH: search, Tag.JOB: job})
        if done:
            client.set_terminated(run.info.run_id)


def _job(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.yaml"
    space = ROOT / "tests" / "data" / "bad_specs" / "spaces" / "ok.yaml"
    path.write_text(JOB.format(space=space, name=name))
    return str(path)


def test_a_warm_start_is_checked_against_the_local_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    _store(state)
    for name in ("dao-20260101-1", "dao"):  # a search, a job with a finished search
        assert main(["--state-dir", str(state), "validate", _job(tmp_path, name)]) == 0
    for command in ("validate", "search"):
        for name in ("nosuch", "other"):  # unknown; a job whose search did not finish
            code = main(["--state-dir", str(state), command, _job(tmp_path, name)])
            err = capsys.readouterr().err.strip().splitlines()
            assert code == 2 and len(err) == 1, err
            assert (
                f"{name}.yaml:8: search.warm_start.from: no search or job called '{name}'"
                in (err[0])
            )
            assert "searches there: other-20260102-2, dao-20260101-1" in err[0]


def test_no_store_yet_is_left_to_the_search(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert main(["--state-dir", str(state), "validate", _job(tmp_path, "nosuch")]) == 0
    assert not state.exists()
