"""MLflow credentials kept out of URIs, command lines and printed commands (credentials.py),
and the credentials file `adaptune ui --auth-file` reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.conftest import write

from adaptune.credentials import (
    CredentialsError,
    adopt_uri_credentials,
    read_credentials_file,
    server_credentials,
    split_uri_credentials,
)
from adaptune.tracking import cli_flags, mlflow_env, resolve_uri

PASSWORD = "correct-horse-battery"


@pytest.mark.parametrize(
    ("uri", "clean", "found"),
    [
        ("http://alice:pw@mlflow:5000/x", "http://mlflow:5000/x", ("alice", "pw")),
        ("https://a%40b:p%3Aw%2F@h", "https://h", ("a@b", "p:w/")),
        ("http://mlflow:5000", "http://mlflow:5000", None),
        ("http://alice@mlflow:5000", "http://alice@mlflow:5000", None),  # no password
        ("postgresql://u:pw@db/x", "postgresql://u:pw@db/x", None),  # the database's own
    ],
)
def test_a_uri_is_split_from_its_credentials(
    uri: str, clean: str, found: tuple[str, str] | None
) -> None:
    assert split_uri_credentials(uri) == (clean, found)


def test_a_uris_credentials_become_mlflows_variables(tmp_path: Path) -> None:
    uri = resolve_uri(f"http://alice:{PASSWORD}@127.0.0.1:5000", tmp_path)
    assert uri == "http://127.0.0.1:5000"
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "alice"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == PASSWORD
    assert adopt_uri_credentials("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_printed_commands_hold_no_database_password(tmp_path: Path) -> None:
    uri = "postgresql://u:hunter2hunter2@db:5432/mlflow"
    assert "hunter2" not in cli_flags(tmp_path, uri) + mlflow_env(uri)
    assert "--tracking-uri 'postgresql://u:***@db:5432/mlflow'" in cli_flags(tmp_path, uri)


def test_a_credentials_file_in_mlflows_format(tmp_path: Path) -> None:
    f = write(
        tmp_path / "c.ini",
        f"# the team's admin\n[mlflow]\nmlflow_tracking_username = alice\n"
        f"mlflow_tracking_password = {PASSWORD}%\n",
    )
    assert read_credentials_file(f) == ("alice", PASSWORD + "%")
    assert server_credentials(f) == ("alice", PASSWORD + "%", str(f))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{PASSWORD}\n", ":1: no [mlflow] section header before this line"),
        (f"[mlflow]\nmlflow_tracking_username = a\n{PASSWORD}\n", ":3: not a `key = value` line"),
        ("[other]\nx = 1\n", ": no [mlflow] section"),
        (
            "[mlflow]\nmlflow_tracking_username = a\n",
            ": [mlflow]: mlflow_tracking_password: missing",
        ),
        (
            "[mlflow]\nmlflow_tracking_username =\nmlflow_tracking_password = x\n",
            ":2: mlflow_tracking_username: empty",
        ),
    ],
)
def test_a_bad_credentials_file_is_one_line_without_the_password(
    tmp_path: Path, text: str, message: str
) -> None:
    f = write(tmp_path / "c.ini", text)
    with pytest.raises(CredentialsError) as e:
        read_credentials_file(f)
    assert str(e.value).startswith(f"{f}{message}")
    assert "\n" not in str(e.value) and PASSWORD not in str(e.value)


def test_server_credentials_from_mlflows_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CredentialsError, match="--auth-file FILE"):
        server_credentials(None)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    user, password, source = server_credentials(None)
    assert (user, password) == ("bob", PASSWORD) and "$MLFLOW_TRACKING_PASSWORD" in source
