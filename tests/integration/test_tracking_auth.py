"""`adaptune ui --server --auth-file FILE`: MLflow's basic-auth app on 127.0.0.1, over real
HTTP. A request without credentials is refused, one with them answered; the password is in
no process's command line, no output and no log; MLflow's client, signed in by
$MLFLOW_TRACKING_USERNAME/PASSWORD, logs a run, and adaptune's, given the credentials in the
URI, records the run with the password scrubbed."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import psutil
import pytest
from tests.conftest import ROOT, write

pytestmark = pytest.mark.integration

USER = "alice"
START_S = 300.0  # four imports of MLflow on a loaded machine: well over a minute seen


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(url: str, auth: tuple[str, str] | None = None) -> int:
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    try:
        with urlopen(Request(url, headers=headers), timeout=60) as response:
            return int(response.status)
    except HTTPError as e:
        return e.code


def _cmdlines(root: psutil.Process) -> list[str]:
    out = []
    for p in [root, *root.children(recursive=True)]:
        try:
            out.append(" ".join(p.cmdline()))
        except psutil.Error:
            continue
    return out


def test_the_team_server_asks_for_credentials_and_keeps_them_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "horse-battery-" + secrets.token_hex(8)  # a value found nowhere else
    creds = write(
        tmp_path / "team.ini",
        f"[mlflow]\nmlflow_tracking_username = {USER}\nmlflow_tracking_password = {password}\n",
    )
    port, state = _free_port(), tmp_path / "st"
    base = f"http://127.0.0.1:{port}"
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(key, None)  # the file alone names the admin
    with open(stdout, "w") as out, open(stderr, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "adaptune", "--state-dir", str(state), "ui", "--server",
             "--auth-file", str(creds), "--port", str(port), "--workers", "1", "--no-open"],
            env=env, stdout=out, stderr=err, start_new_session=True,
        )  # fmt: skip
    seen: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + START_S
        while "Ctrl-C stops it" not in stdout.read_text():  # it signed in as the admin itself
            assert proc.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(1)
        seen = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        url = f"{base}/api/2.0/mlflow/experiments/search?max_results=5"
        assert _status(url) == 401
        assert _status(url, (USER, "not-" + password)) == 401
        assert _status(url, (USER, password)) == 200

        cmdlines = _cmdlines(psutil.Process(proc.pid))
        assert any("basic-auth" in c for c in cmdlines)  # the mlflow server is among them
        assert not [c for c in cmdlines if password in c]

        # MLflow's own client, signed in by MLflow's own variables
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        from mlflow import MlflowClient

        client = MlflowClient(base)
        exp = client.create_experiment("team-auth")
        run = client.create_run(exp, run_name="signed-in")
        client.log_param(run.info.run_id, "lr", "0.001")
        client.log_metric(run.info.run_id, "val/mse", 0.5)
        client.set_terminated(run.info.run_id)
        got = f"{base}/api/2.0/mlflow/runs/get?run_id={run.info.run_id}"
        assert _status(got) == 401 and _status(got, (USER, password)) == 200

        # adaptune's client: the credentials in the URI go to MLflow's variables and are
        # scrubbed from what it records
        from adaptune import tracking

        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
        uri = tracking.resolve_uri(f"http://{USER}:{password}@127.0.0.1:{port}", state)
        assert uri == base and os.environ["MLFLOW_TRACKING_PASSWORD"] == password
        ours = tracking.setup(uri)
        mine = ours.create_run(exp, run_name="scrubbed", tags={"note": f"store {password}"})
        ours.log_param(mine.info.run_id, "store", f"http://{USER}:{password}@x:5000")
        data = client.get_run(mine.info.run_id).data
        assert password not in str(data.tags) + str(data.params)
        assert data.params["store"] == f"http://{USER}:***@x:5000"
    finally:
        proc.send_signal(signal.SIGTERM)  # the adaptune process stops its server
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    _, alive = psutil.wait_procs(seen, timeout=30)
    assert not alive, [p.pid for p in alive]
    printed = stdout.read_text() + stderr.read_text() + (state / "ui.log").read_text()
    assert "Sign-in required (admin: alice)" in printed and password not in printed
    assert password not in (state / "basic_auth.ini").read_text()

    # Started again with another password, the server (its user store kept) refuses it:
    # said in one line, and the server stopped.
    write(creds, creds.read_text().replace(password, "another-" + password))
    again = subprocess.run(
        [sys.executable, "-m", "adaptune", "--state-dir", str(state), "ui", "--server",
         "--auth-file", str(creds), "--port", str(port), "--workers", "1", "--no-open"],
        env=env, capture_output=True, text=True, timeout=START_S, start_new_session=True,
    )  # fmt: skip
    assert again.returncode == 1, again.stderr
    assert "refuses alice's password" in again.stderr and password not in again.stderr
    deadline = time.monotonic() + 30
    while _listening(port):  # its server stopped with it
        assert time.monotonic() < deadline, f"something still listens on {port}"
        time.sleep(0.5)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
