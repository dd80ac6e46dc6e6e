"""Secret scrubbing: values of secret-looking environment variables never get written
to MLflow through the client ``tracking.setup`` returns."""

from __future__ import annotations

import json
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


GITHUB = "ghp_" + "Z9y8X7w6" * 5
SHAPED = [
    GITHUB,
    "github_pat_11ABCDEFG0abcdefghijkl_" + "m" * 40,
    "AKIAIOSFODNN7EXAMPLE",
    "xoxb-123456789012-abcdefABCDEF",
    "sk-proj-" + "q" * 40,
    "hf_" + "AbCd" * 9,
    "AIza" + "S" * 35,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
]


@pytest.mark.parametrize("token", SHAPED)
def test_well_known_token_shapes_are_scrubbed_without_the_environment(token: str) -> None:
    assert scrub(f"x {token} y", secrets=[]) == "x *** y"


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("password=hunter2 next", "password=*** next"),
        ('{"db_password": "pw1"}', '{"db_password": "***"}'),
        ("MLFLOW_TRACKING_PASSWORD: s3cr3t", "MLFLOW_TRACKING_PASSWORD: ***"),
        ("api_key='abc'", "api_key='***'"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", "Authorization: ***"),
        # not secrets: a tokenizer's special tokens, counts, ordinary settings
        ('{"pad_token": "[PAD]", "max_tokens": 5}', '{"pad_token": "[PAD]", "max_tokens": 5}'),
        ("tokenizer: bert, seed=1", "tokenizer: bert, seed=1"),
    ],
)
def test_assigned_secrets_are_scrubbed_by_name(text: str, clean: str) -> None:
    assert scrub(text, secrets=[]) == clean


def test_short_secrets_of_secret_only_names_count() -> None:
    env = {"DB_PASSWORD": "hunter2", "GITHUB_PAT": "pat-1234", "X_TOKEN": "true", "A_KEY": "k1"}
    assert set(secret_values(env)) == {"hunter2", "pat-1234"}
    # a short secret is matched as a whole word only, so ordinary text is not mangled
    assert scrub("hunter2 / hunter22 / xhunter2", ["hunter2"]) == "*** / hunter22 / xhunter2"


def test_experiment_names_are_scrubbed_and_found_again(tmp_path: Path) -> None:
    state = tmp_path / "state"
    client = tracking.setup(tracking.resolve_uri(None, state))
    exp = tracking.ensure_experiment(client, f"exp-{SECRET}", state)
    assert client.get_experiment(exp).name == "exp-***"
    assert tracking.ensure_experiment(client, f"exp-{SECRET}", state) == exp  # same one


def test_a_logged_models_own_files_are_scrubbed(tmp_path: Path) -> None:
    from adaptune.tracking.scrub import scrubbed_copy

    model = tmp_path / "model"
    (model / "encoder").mkdir(parents=True)
    (model / "adaptune.json").write_text(json.dumps({"backbone": f"https://u:{SECRET}@hub/x"}))
    (model / "encoder" / "weights.bin").write_bytes(bytes(range(256)))
    with scrubbed_copy(str(model)) as clean:
        assert clean != str(model)
        assert SECRET not in (Path(clean) / "adaptune.json").read_text()
        assert (Path(clean) / "encoder" / "weights.bin").read_bytes() == bytes(range(256))
    assert not Path(clean).exists() and SECRET in (model / "adaptune.json").read_text()
    (model / "adaptune.json").write_text("{}")
    with scrubbed_copy(str(model)) as same:
        assert same == str(model)  # nothing to scrub: no copy
