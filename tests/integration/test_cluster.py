"""A real two-node Ray cluster on loopback, an MLflow server, and `adaptune submit`.

Starts `ray start --head` and a second `ray start --address` node (1 CPU each, each with
its own temp dir and ports, as on two machines), an `mlflow server`, then, through the
CLI as a user would: `adaptune submit` of the quickstart made tiny with --set, `status`
until it ends, `logs`; its trials ran on both nodes and the server holds their runs. Then
`adaptune stop` stops a long search mid-run. Everything it starts it stops, on failure
too (its processes are found by a marker and by this test's own folder under /tmp).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import pytest
from tests.conftest import ROOT

from adaptune.autoscale import free_ports
from adaptune.cli import main

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
# The shipped quickstart job, made tiny from the command line as a user would.
TINY = [
    "data.n_train=64",
    "fixed.epochs=2",
    "fixed.max_len=16",
    "search.scheduler={type: fifo}",  # the whole mapping: fifo takes no other key
    "promote.model_name=on-cluster",
    "tracking.experiment=on-cluster",
]
JOB = str(ROOT / "jobs" / "quickstart.yaml")
# Ray maps 127.0.0.1 to the LAN address for node IPs; 127.0.0.2 is loopback and kept.
NODE_IP = "127.0.0.2"
MARK = "ADAPTUNE_TEST_CLUSTER"  # in the environment of every process the cluster starts


def _wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:  # it answers (401 under token auth): it is up
            return
        except OSError:
            time.sleep(1)
    raise TimeoutError(url)


def _ours(base: str, marker: str | None = None) -> list[int]:
    """Processes this cluster started, whatever became of their command line: all inherit
    MARK=marker, and Ray's processes keep logs (or their cwd) under the base folder. Agents
    rename themselves (ray::DashboardAgent), which can also blank /proc/PID/environ."""
    needle = f"{MARK}={marker}".encode() if marker else None
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            found = base.encode() in (proc / "cmdline").read_bytes()
            if needle and not found:
                found = needle in (proc / "environ").read_bytes().split(b"\0")
            found = found or os.readlink(proc / "cwd").startswith(base)
            if not found:
                for fd in (proc / "fd").iterdir():
                    with contextlib.suppress(OSError):
                        if os.readlink(fd).startswith(base):
                            found = True
                            break
        except OSError:  # gone, or not ours to read
            continue
        if found:
            pids.append(int(proc.name))
    return pids


def _stop_cluster(base: str, marker: str | None = None) -> None:
    """SIGTERM, then SIGKILL (the GCS may ignore SIGTERM while it shuts down its clients)."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        for pid in _ours(base, marker):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while _ours(base, marker) and time.monotonic() < deadline:
            time.sleep(0.5)
    leftover = _ours(base, marker)
    assert not leftover, f"processes of the test cluster still running: {leftover}"


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[dict[str, str]]:
    # Short paths (Ray's socket paths are bounded); everything this test writes is under it.
    base = f"/tmp/adaptune-test-ray-{os.getpid()}/"
    # Each node its own temp dir, as on separate machines: nodes sharing one share its
    # runtime_resources/, and one node's runtime-env agent then deletes the job's
    # working_dir (an env it no longer uses) under the other node's job driver.
    head_dir, node_dir, state = base + "head", base + "node", Path(base + "state")
    (mlf,) = free_ports(1)
    marker = f"{os.getpid()}-{time.time_ns()}"
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_AUTH_MODE": "token"}
    env[MARK] = marker
    env.pop("RAY_ADDRESS", None)
    ray_bin = str(BIN / "ray")

    def ray_start(temp_dir: str, args: Callable[[], list[str]]) -> None:
        """`ray start` a node with its own temp dir and ports (Ray's fixed defaults, 52365
        and others, would collide); again if it failed, after stopping what that try left:
        on a loaded 2-core machine a raylet can miss Ray's fixed 30 s registration wait."""
        for attempt in (1, 2, 3):
            http, grpc, metrics = free_ports(3)
            done = subprocess.run(
                [
                    ray_bin,
                    "start",
                    *args(),
                    f"--temp-dir={temp_dir}",
                    f"--node-ip-address={NODE_IP}",
                    "--num-cpus=1",
                    f"--dashboard-agent-listen-port={http}",
                    f"--dashboard-agent-grpc-port={grpc}",
                    f"--metrics-export-port={metrics}",
                    "--disable-usage-stats",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
            )
            if done.returncode == 0:
                return
            _stop_cluster(temp_dir + "/")
            shutil.rmtree(temp_dir, ignore_errors=True)
            assert attempt < 3, done.stdout[-2000:] + done.stderr[-2000:]

    def head() -> list[str]:
        nonlocal gcs, dash
        gcs, dash, client = free_ports(3)
        return [
            "--head",
            f"--port={gcs}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dash}",
            f"--ray-client-server-port={client}",
        ]

    gcs = dash = 0
    server: subprocess.Popen[bytes] | None = None
    shutil.rmtree(base, ignore_errors=True)  # a stale one from a killed run with this pid
    state.mkdir(parents=True)
    try:
        # MLflow's server starts while Ray does (its own start takes a while on 2 cores).
        server = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(mlf),
                "--backend-store-uri",
                f"sqlite:///{state / 'server.db'}",
                "--artifacts-destination",
                (state / "artifacts").as_uri(),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # A fresh machine has no token yet: create ~/.ray/auth_token (kept if it exists).
        subprocess.run(
            [ray_bin, "get-auth-token", "--generate"],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        ray_start(head_dir, head)
        ray_start(
            node_dir, lambda: [f"--address={NODE_IP}:{gcs}", '--resources={"second_node": 1}']
        )
        _wait_http(f"http://127.0.0.1:{mlf}/health")
        _wait_http(f"http://127.0.0.1:{dash}/api/version")
        yield {
            "address": f"http://127.0.0.1:{dash}",
            "tracking": f"http://127.0.0.1:{mlf}",
            "storage": str(state / "tune"),
        }
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        _stop_cluster(base, marker)
        shutil.rmtree(base, ignore_errors=True)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """`adaptune ARGV` as a user runs it; returns what it printed."""
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def _submit(capsys: pytest.CaptureFixture[str], cl: dict[str, str], *sets: str) -> str:
    overrides = [a for s in (*TINY, *sets) for a in ("--set", s)]
    # as the README says for more than one node: Tune/Train state on shared storage
    storage = ["--storage-path", cl["storage"]]
    return _cli(
        capsys,
        "submit",
        JOB,
        "--address",
        cl["address"],
        "--tracking-uri",
        cl["tracking"],
        *storage,
        *overrides,
    ).strip()


def _status(capsys: pytest.CaptureFixture[str], sid: str, address: str) -> str:
    return str(json.loads(_cli(capsys, "status", sid, "--address", address))["status"])


def _wait(capsys: pytest.CaptureFixture[str], sid: str, address: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _status(capsys, sid, address)
        if state in ("SUCCEEDED", "FAILED", "STOPPED"):
            return state
        time.sleep(3)
    raise TimeoutError(f"{sid}: {_cli(capsys, 'logs', sid, '--address', address)[-3000:]}")


def test_submitted_search_uses_both_nodes(
    two_nodes: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    address = two_nodes["address"]
    sid = _submit(capsys, two_nodes, "search.num_samples=2")
    assert sid.startswith("raysubmit_")
    state = _wait(capsys, sid, address, timeout=420)
    log = _cli(capsys, "logs", sid, "--address", address)
    assert state == "SUCCEEDED", log[-3000:]
    assert "2 trials" in log and "2 completed" in log and "champion: on-cluster" in log
    # the registry named too: an in-process search of an earlier test leaves MLflow's
    # default registry set to its own store, which a client given only a tracking URI uses
    client = mlflow.MlflowClient(two_nodes["tracking"], registry_uri=two_nodes["tracking"])
    exp = client.get_experiment_by_name("on-cluster")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], "tags.`adaptune.trial_id` != ''")
    assert len(runs) == 2
    assert len({r.data.tags["adaptune.node_id"] for r in runs}) == 2  # one trial per node
    assert all(r.data.tags["adaptune.status"] == "completed" for r in runs)
    champion = client.get_model_version_by_alias("on-cluster", "champion")
    assert {champion.run_id, champion.tags.get("adaptune.run_id")} & {r.info.run_id for r in runs}


def test_stop_stops_a_long_search(
    two_nodes: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    address = two_nodes["address"]
    sid = _submit(capsys, two_nodes, "search.num_samples=40")
    deadline = time.monotonic() + 300
    while " started: " not in (log := _cli(capsys, "logs", sid, "--address", address)):
        assert time.monotonic() < deadline, log[-3000:]
        assert _status(capsys, sid, address) in ("PENDING", "RUNNING"), log[-3000:]
        time.sleep(3)
    assert _cli(capsys, "stop", sid, "--address", address).strip() == "stop requested"
    assert _wait(capsys, sid, address, timeout=120) == "STOPPED"
