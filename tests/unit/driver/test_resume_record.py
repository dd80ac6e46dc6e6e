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
    from adaptune.driver.resume import restorable

    rec = resume.Record(search="s-2", storage=str(tmp_path / "ray"))
    assert not restorable(rec)
    (tmp_path / "ray" / "s-2").mkdir(parents=True)
    (tmp_path / "ray" / "s-2" / "tuner.pkl").write_bytes(b"")
    assert not restorable(rec)


def test_a_changed_job_is_named_key_by_key() -> None:
    from adaptune.job.spec import JobSpec
    from adaptune.plan import make_plans

    def plans(**sets: object) -> list:
        return make_plans(JobSpec.from_yaml("jobs/quickstart.yaml", dict(sets)))

    rec = resume.Record(search="q-1", values=resume.fingerprint(plans()))
    resume.check_unchanged(rec, plans())  # the same job: accepted
    resume.check_unchanged(rec, plans(**{"promote.rule": "significant", "final.seeds": 3}))
    with pytest.raises(resume.Changed) as e:
        resume.check_unchanged(rec, plans(**{"fixed.epochs": 9, "data.n_train": 64}))
    assert "data.n_train: 600 -> 64" in str(e.value) and "fixed.epochs: 4 -> 9" in str(e.value)
    with pytest.raises(resume.Changed, match=r"space\.lr"):  # the space file's content counts
        resume.check_unchanged(
            rec, plans(**{"search.space": {"lr": {"type": "float", "low": 1e-4, "high": 1e-2}}})
        )
    resume.check_unchanged(resume.Record(search="old"), plans(**{"fixed.epochs": 9}))  # no values
    # a spec key added since the record was written, at its default, is no change; set, it is
    before = {k: v for k, v in rec.values.items() if k != "search.finalists"}
    resume.check_unchanged(resume.Record(search="q-1", values=before), plans())
    with pytest.raises(resume.Changed, match=r"search\.finalists\.top_k: \(unset\) -> 2"):
        resume.check_unchanged(rec, plans(**{"search.finalists": {"top_k": 2}}))


def test_a_search_held_by_another_process_is_refused_naming_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    lock = tmp_path / "searches" / "s-1.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from adaptune.driver import resume\n"
            "with resume.hold(Path(sys.argv[1]), 's-1'):\n    print('held', flush=True)\n"
            "    time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        with (
            pytest.raises(resume.Busy, match=f"process {holder.pid}"),
            resume.hold(tmp_path, "s-1"),
        ):
            pass
        with resume.hold(tmp_path, "s-2"), resume.hold(tmp_path, "s-2"):  # re-entrant
            assert (lock.parent / "s-2.lock").read_text().strip() == str(os.getpid())
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    with resume.hold(tmp_path, "s-1"):  # the holder died: its lock went with it
        assert lock.read_text().strip() == str(os.getpid())


def test_the_record_keeps_no_password_and_a_resume_asks_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = "postgresql://ml:hunter2-secret@db.internal/mlflow"
    resume.save(tmp_path, resume.Record(search="s-1", tracking_uri=uri))
    assert "hunter2" not in resume.record_path(tmp_path, "s-1").read_text()
    rec = resume.load(tmp_path, "s-1")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(LookupError, match="--tracking-uri URI or \\$MLFLOW_TRACKING_URI"):
        resume.tracking_uri(rec, None)
    assert resume.tracking_uri(rec, uri) == uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert resume.tracking_uri(rec, None) == uri
    plain = resume.Record(search="s-2", tracking_uri="sqlite:////x/mlflow.db")
    assert resume.tracking_uri(plain, None) == "sqlite:////x/mlflow.db"
