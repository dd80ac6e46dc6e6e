"""The names a job gives MLflow are checked up front by rules that agree with MLflow's own
validators (which would refuse them only after every trial had run)."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils import validation

from adaptune.job import names

MODEL_NAMES = [
    "dao-finsent",
    "team/dao:v2",
    "a:b",
    "x/y",
    "",
    "   ",
    ".",
    "..",
    "a/../b",
    "dao finsent",
    "café model",
    "a.b",
    "./a",
]
ALIASES = [
    "champion",
    "latest",
    "LATEST",
    "v2",
    "V10",
    "v2a",
    "prod champion!",
    "prod-champion_1",
    "",
    "x" * 256,
    "x" * 255,
    "café",
]
EXPERIMENTS = ["dao-finsent", "x" * 500, "x" * 501, "quote's name"]


def _mlflow_refuses(check: object, value: str) -> bool:
    try:
        check(value)  # type: ignore[operator]
    except MlflowException:
        return True
    return False


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_names_follow_mlflow(name: str) -> None:
    ours = names.model_name_problem(name) is not None
    assert ours == _mlflow_refuses(validation._validate_model_name, name), name


@pytest.mark.parametrize("alias", ALIASES)
def test_aliases_follow_mlflow(alias: str) -> None:
    def mlflow_check(value: str) -> None:
        validation._validate_model_alias_name(value)
        validation._validate_model_alias_name_reserved(value)

    ours = names.alias_problem(alias) is not None
    assert ours == _mlflow_refuses(mlflow_check, alias), alias


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_names_follow_mlflow(name: str) -> None:
    ours = names.experiment_problem(name) is not None
    assert ours == _mlflow_refuses(validation._validate_experiment_name, name), name


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("http://127.0.0.1:5000", True),
        ("https://mlflow.example", True),
        ("sqlite:////tmp/x.db", True),
        ("postgresql+psycopg2://u@db/x", True),
        ("databricks", True),
        ("./mlruns", True),
        ("htp://localhost:5000", False),
        ("s3://bucket/x", False),
        ("", False),
    ],
)
def test_tracking_uri_schemes(uri: str, ok: bool) -> None:
    assert (names.tracking_uri_problem(uri) is None) == ok, uri


def test_a_name_holding_a_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "ghp_" + "a1B2" * 9
    assert "looks like a secret" in str(names.model_name_problem(f"model-{token}"))
    monkeypatch.setenv("DB_PASSWORD", "hunter2")
    assert names.experiment_problem("exp-hunter2") is not None
    assert names.experiment_problem("exp-hunter22") is None  # not the password itself
