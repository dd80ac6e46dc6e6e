"""Secret scrubbing: values of secret-looking environment variables never get written
to MLflow through the client ``tracking.setup`` returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptune import tracking
from adaptune.tracking import scrub, secret_values

SECRET = "sk-planted-0123456789abcdef"


@pytest.fixture(autouse=True)
def planted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTUNE_TEST_API_TOKEN", SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-planted-secret-value")
    monkeypatch.setenv("SOME_KEY", "1")  # too short to be a credential: left alone


def test_secret_looking_names_are_recognised() -> None:
    env = {
        "HF_TOKEN": "hf_planted_token",
        "MLFLOW_TRACKING_PASSWORD": "pw-planted-1",
        "AWS_SESSION_TOKEN": "aws-session-planted",
        "OPENAI_API_KEY": "sk-planted-openai",
        "MY_SECRET": "a-long-secret",
        "HOME": "/home/someone-long",
        "SHORT_TOKEN": "abc",
    }
    assert set(secret_values(env)) == {
        "hf_planted_token",
        "pw-planted-1",
        "aws-session-planted",
        "sk-planted-openai",
        "a-long-secret",
    }


def test_scrub_redacts_in_strings_dicts_and_lists() -> None:
    text = f"Traceback ... {{'ADAPTUNE_TEST_API_TOKEN': '{SECRET}'}} step 1"
    assert scrub(text) == "Traceback ... {'ADAPTUNE_TEST_API_TOKEN': '***'} step 1"
    nested = {"a": [f"x{SECRET}", ("aws-planted-secret-value", 3)], SECRET: 1.5}
    assert scrub(nested) == {"a": ["x***", ("***", 3)], "***": 1.5}
    assert scrub("epochs=1, seed=1") == "epochs=1, seed=1"
    assert scrub(7) == 7


def test_scrub_hides_passwords_in_urls() -> None:
    assert scrub("https://bob:hunter2@mlflow.example:5000/x") == (
        "https://bob:***@mlflow.example:5000/x"
    )
    assert scrub("http://mlflow.example:5000/x@y") == "http://mlflow.example:5000/x@y"


def test_nothing_secret_reaches_the_store(tmp_path: Path) -> None:
    state = tmp_path / "state"
    client = tracking.setup(tracking.resolve_uri(None, state))
    exp = tracking.ensure_experiment(client, "scrub", state)
    run = client.create_run(exp, run_name="r", tags={"note": f"token {SECRET}"}).info.run_id
    tracking.log_params(client, run, {"dump": f"env {SECRET} " + "x" * 7000})
    client.log_param(run, "p", SECRET)
    client.set_tag(run, "adaptune.error", f"KeyError: {SECRET}")
    client.log_text(run, f"token={SECRET}\n", "notes/env.txt")
    client.log_dict(run, {"env": {"AWS_SECRET_ACCESS_KEY": "aws-planted-secret-value"}}, "d.json")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"# token {SECRET}\nname: x\n")
    client.log_artifact(run, str(spec), "spec")
    report = tmp_path / "report"
    (report / "sub").mkdir(parents=True)
    (report / "sub" / "table.csv").write_text(f"a,b\n1,{SECRET}\n")
    (report / "plot.bin").write_bytes(bytes(range(256)))
    client.log_artifacts(run, str(report), "report")

    data = client.get_run(run).data
    assert data.params["p"] == "***" and data.params["dump"].startswith("env *** x")
    assert data.tags["adaptune.error"] == "KeyError: ***" and data.tags["note"] == "token ***"
    artifacts = state / "mlartifacts"
    assert (next(artifacts.rglob("spec.yaml"))).read_text() == "# token ***\nname: x\n"
    assert (next(artifacts.rglob("table.csv"))).read_text() == "a,b\n1,***\n"
    assert (next(artifacts.rglob("plot.bin"))).read_bytes() == bytes(range(256))
    stored = [*state.glob("mlflow.db*"), *(p for p in artifacts.rglob("*") if p.is_file())]
    assert len(stored) >= 6
    for needle in (SECRET, "aws-planted-secret-value"):
        assert not [p for p in stored if needle.encode() in p.read_bytes()], needle
