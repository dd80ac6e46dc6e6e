"""Opening the store: two first searches on a fresh state folder both get a working
store (no "table already exists"), and a tracking server that does not answer fails in
seconds with one line, not after MLflow's minutes of retries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import ROOT

from adaptune import tracking
from adaptune.driver.tuner import check_ray_address
from adaptune.tracking.names import Kind
from adaptune.tracking.reach import TrackingUnreachable, check_reachable

FIRST_SEARCH = """
import sys, time
from pathlib import Path
from adaptune import tracking
state, go = Path(sys.argv[1]), Path(sys.argv[2])
Path(f"{go}.{sys.argv[3]}").touch()  # imported: ready
while not go.exists():  # every process opens the store at the same moment
    time.sleep(0.01)
client = tracking.setup(tracking.resolve_uri(None, state))
exp = tracking.ensure_experiment(client, "race", state)
client.create_run(exp, run_name=sys.argv[3])
print("ok")
"""


def test_first_searches_at_once_share_one_store(tmp_path: Path) -> None:
    state, go = tmp_path / "state", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_SEARCH, str(state), str(go), f"run{i}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.run*"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    go.touch()
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in results]
    client = tracking.setup(tracking.resolve_uri(None, state))
    exp = client.get_experiment_by_name("race")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["run0", "run1", "run2"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def test_a_dead_tracking_server_fails_fast_with_one_line() -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with pytest.raises(TrackingUnreachable) as e:
        tracking.setup(uri)
    assert time.monotonic() - start < 10
    assert "\n" not in str(e.value) and "does not answer" in str(e.value)


def test_an_unroutable_server_times_out() -> None:
    start = time.monotonic()
    with pytest.raises(TrackingUnreachable):  # TEST-NET-1: packets go nowhere
        check_reachable("http://192.0.2.1:5000", timeout_s=1.0)
    assert time.monotonic() - start < 5


def test_http_requests_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")  # the user's own setting stays
    from adaptune.tracking.reach import bounded_http

    bounded_http()
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"


def test_a_dead_ray_address_fails_fast() -> None:
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"no Ray cluster answers at 127\.0\.0\.1:"):
        check_ray_address(f"127.0.0.1:{_closed_port()}")
    with pytest.raises(ConnectionError, match="ray://"):
        check_ray_address(f"ray://127.0.0.1:{_closed_port()}")
    assert time.monotonic() - start < 10


def test_auto_is_resolved_and_checked_like_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """RAY_ADDRESS=auto names the cluster Ray would dial: a dead one fails within seconds
    (Ray itself would retry it for ever)."""
    port = _closed_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    # Ray maps 127.0.0.1 to the node's address
    with pytest.raises(ConnectionError, match=rf"no Ray cluster answers at \S+:{port} .* 'auto'"):
        check_ray_address("auto")


def test_a_dead_cluster_address_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from adaptune.cli import main

    address = f"127.0.0.1:{_closed_port()}"
    state = str(tmp_path / "state")
    assert main(["--state-dir", state, "search", "jobs/quickstart.yaml", "--address", address]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"error: no Ray cluster answers at {address} (Connection refused)", err


def test_a_quoted_name_is_not_found_rather_than_breaking_the_filter(tmp_path: Path) -> None:
    client = tracking.setup(tracking.resolve_uri(None, tmp_path / "state"))
    with pytest.raises(LookupError, match="names hold no quotes"):
        tracking.find_run(client, "x' or '1'='1", Kind.SEARCH)
