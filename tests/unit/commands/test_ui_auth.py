"""`adaptune ui --auth` without a server: MLflow's basic-auth app on the command line, the
password in the environment only, bad credentials refused in one line, and the warning for
a server open to other machines. (The server itself: tests/integration/test_tracking_auth.py.)"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tests.conftest import write

from adaptune.cli import build_parser, main
from adaptune.commands.ui import auth_env, exposure_warning, server_command
from adaptune.credentials import CredentialsError

PASSWORD = "correct-horse-battery"


def _creds(tmp_path: Path, password: str = PASSWORD) -> Path:
    return write(
        tmp_path / "team.ini",
        f"[mlflow]\nmlflow_tracking_username = alice\nmlflow_tracking_password = {password}\n",
    )


def test_auth_runs_mlflows_basic_auth_app(tmp_path: Path) -> None:
    args = build_parser().parse_args(["ui", "--server", "--auth-file", str(_creds(tmp_path))])
    cmd = server_command(args, "sqlite:///x.db", tmp_path)
    assert cmd[cmd.index("--app-name") + 1] == "basic-auth"
    assert "--app-name" not in server_command(build_parser().parse_args(["ui"]), "x", tmp_path)


def test_the_password_reaches_the_server_by_its_environment_only(tmp_path: Path) -> None:
    args = build_parser().parse_args(["ui", "--server", "--auth-file", str(_creds(tmp_path))])
    env, admin = auth_env(args, tmp_path)
    assert admin == "alice" and env["MLFLOW_AUTH_ADMIN_PASSWORD"] == PASSWORD
    config = Path(env["MLFLOW_AUTH_CONFIG_PATH"]).read_text()
    assert PASSWORD not in config and f"sqlite:///{tmp_path / 'basic_auth.db'}" in config
    assert len(env["MLFLOW_FLASK_SERVER_SECRET_KEY"]) >= 32
    # a store URI holding a password goes by $MLFLOW_BACKEND_STORE_URI, not the argv
    uri = "postgresql://u:hunter2hunter2@db/mlflow"
    assert not [a for a in server_command(args, uri, tmp_path) if "hunter2" in a]


def test_mlflows_password_rule_is_checked_first(tmp_path: Path) -> None:
    creds = _creds(tmp_path, "short")
    args = build_parser().parse_args(["ui", "--server", "--auth-file", str(creds)])
    with pytest.raises(CredentialsError, match=rf"^{creds}: mlflow_tracking_password: .*12"):
        auth_env(args, tmp_path)


def test_auth_without_credentials_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    assert main(["--state-dir", str(tmp_path), "ui", "--server", "--auth", "--port", port]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "$MLFLOW_TRACKING_PASSWORD" in err


@pytest.mark.parametrize(
    ("argv", "warned"),
    [
        (["ui", "--server"], False),
        (["ui", "--server", "--host", "localhost"], False),
        (["ui", "--server", "--host", "::1"], False),
        (["ui", "--server", "--host", "0.0.0.0"], True),
        (["ui", "--host", "mlflow.internal"], True),
        (["ui", "--server", "--host", "0.0.0.0", "--auth"], False),
    ],
)
def test_a_server_open_to_other_machines_without_auth_is_warned_of(
    argv: list[str], warned: bool
) -> None:
    warning = exposure_warning(build_parser().parse_args(argv))
    assert (warning is not None) == warned
    assert warning is None or ("\n" not in warning and "--auth" in warning)
