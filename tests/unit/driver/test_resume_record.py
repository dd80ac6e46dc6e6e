"""Resume records: typed, written atomically, and a record of an earlier format (sweep.py's,
then adaptune.search's) is refused with its reason (Tune pickled that search's callback by
a module path that no longer exists), not with a traceback from inside Tune."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaptune.cli import main
from adaptune.driver import resume


def test_a_record_round_trips(tmp_path: Path) -> None:
    rec = resume.Record(search="s-1", job="/x/job.yaml", overrides=["a=1"], stage=0)
    resume.save(tmp_path, rec)
    resume.update(tmp_path, "s-1", finished=True)
    back = resume.load(tmp_path, "s-1")
    assert back.job == "/x/job.yaml" and back.overrides == ["a=1"] and back.finished
    assert back.format == resume.FORMAT


@pytest.mark.parametrize("fmt", [None, 2])  # None: sweep.py's; 2: adaptune.search's
def test_an_older_record_is_refused_with_its_reason(
    fmt: int | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = {  # as an earlier layout wrote it
        "search": "quickstart-20261126-071500",
        "job": "/x/jobs/quickstart.yaml",
        "overrides": [],
        "parent_run_id": "abc",
        "experiment_id": "1",
        "storage": str(tmp_path / "ray"),
        "tracking_uri": "sqlite:///x.db",
        "finished": False,
    } | ({} if fmt is None else {"format": fmt})
    folder = tmp_path / "searches"
    folder.mkdir()
    (folder / "quickstart-20261126-071500.json").write_text(json.dumps(old))
    code = main(["--state-dir", str(tmp_path), "resume", "quickstart-20261126-071500"])
    err = capsys.readouterr().err
    assert code == 2
    assert "started by an earlier adaptune" in err and "start the search again" in err


def test_a_path_is_not_a_search_name(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="no search"):
        resume.load(tmp_path, "../x")


def test_a_search_killed_before_tune_saved_its_state_is_not_restorable(tmp_path: Path) -> None:
    """The driver died while the Tuner was starting: the folder exists, the experiment
    snapshot does not; resume then starts the search again instead of failing in Tune."""
    from adaptune.driver.run import restorable

    rec = resume.Record(search="s-2", storage=str(tmp_path / "ray"))
    assert not restorable(rec)
    (tmp_path / "ray" / "s-2").mkdir(parents=True)
    (tmp_path / "ray" / "s-2" / "tuner.pkl").write_bytes(b"")
    assert not restorable(rec)
