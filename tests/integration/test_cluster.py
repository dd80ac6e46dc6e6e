"""A real two-node Ray cluster on loopback, an MLflow server, and `adaptune submit`.

Starts `ray start --head` and a second `ray start --address` node (1 CPU each), an
`mlflow server`, submits a tiny search through the Ray Jobs SDK and checks that its
trials ran on both nodes and that the server holds the runs; then stops a long job.
Everything it starts it stops (processes are found by this test's own temp dir).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import yaml
from tests.conftest import ROOT

from adaptune import cluster

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
# The shipped quickstart job, made tiny from the command line as a user would.
TINY = [
    "data.n_train=64",
    "fixed.epochs=2",
    "fixed.max_len=16",
    "search.scheduler.type=fifo",
    "promote.model_name=on-cluster",
    "tracking.experiment=on-cluster",
]
JOB = str(ROOT / "jobs" / "quickstart.yaml")
# Ray maps 127.0.0.1 to the LAN address for node IPs; 127.0.0.2 is loopback and kept.
NODE_IP = "127.0.0.2"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[dict[str, str]]:
    temp_dir = f"/tmp/adaptune-test-ray-{os.getpid()}"  # short: Ray's socket paths are bounded
    state = Path(temp_dir + "-state")
    gcs, dash, mlf = _port(), _port(), _port()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_AUTH_MODE": "token"}
    env.pop("RAY_ADDRESS", None)
    ray_bin = str(BIN / "ray")
    common = [f"--node-ip-address={NODE_IP}", "--num-cpus=1", "--disable-usage-stats"]
    server: subprocess.Popen[bytes] | None = None
    state.mkdir(parents=True, exist_ok=True)
    try:
        # A fresh machine has no token yet: create ~/.ray/auth_token (kept if it exists).
        subprocess.run(
            [ray_bin, "get-auth-token", "--generate"],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        subprocess.run(
            [
                ray_bin,
                "start",
                "--head",
                f"--port={gcs}",
                f"--temp-dir={temp_dir}",
                "--include-dashboard=true",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={dash}",
                *common,
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
        subprocess.run(
            [
                ray_bin,
                "start",
                f"--address={NODE_IP}:{gcs}",
                '--resources={"second_node": 1}',
                *common,
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
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
        _wait_http(f"http://127.0.0.1:{mlf}/health")
        _wait_http(f"http://127.0.0.1:{dash}/api/version")
        yield {"address": f"http://127.0.0.1:{dash}", "tracking": f"http://127.0.0.1:{mlf}"}
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        subprocess.run(["pkill", "-f", temp_dir], check=False)
        time.sleep(3)  # the GCS may ignore SIGTERM while it shuts down its clients
        subprocess.run(["pkill", "-9", "-f", temp_dir], check=False)


def _wait(sid: str, address: str, timeout: float = 600.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cluster.status(sid, address)["status"]
        if state in ("SUCCEEDED", "FAILED", "STOPPED"):
            return str(state)
        time.sleep(3)
    raise TimeoutError(sid)


def test_submitted_search_uses_both_nodes(two_nodes: dict[str, str]) -> None:
    sid = cluster.submit(
        JOB,
        two_nodes["address"],
        tracking_uri=two_nodes["tracking"],
        overrides=[*TINY, "search.num_samples=2"],
    )
    state = _wait(sid, two_nodes["address"])
    log = cluster.logs(sid, two_nodes["address"])
    assert state == "SUCCEEDED", log[-3000:]
    assert "2 trials" in log and "champion: on-cluster" in log
    client = mlflow.MlflowClient(two_nodes["tracking"])
    exp = client.get_experiment_by_name("on-cluster")
    runs = client.search_runs([exp.experiment_id], "tags.`adaptune.trial_id` != ''")
    assert len(runs) == 2
    assert len({r.data.tags["adaptune.node_id"] for r in runs}) == 2  # one trial per node


def test_stop_stops_a_long_search(two_nodes: dict[str, str]) -> None:
    sid = cluster.submit(
        JOB,
        two_nodes["address"],
        tracking_uri=two_nodes["tracking"],
        overrides=[*TINY, "search.num_samples=40"],
    )
    deadline = time.monotonic() + 300
    while cluster.status(sid, two_nodes["address"])["status"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(2)
    assert cluster.stop(sid, two_nodes["address"])
    assert _wait(sid, two_nodes["address"], timeout=120) == "STOPPED"


def test_cluster_yaml_passes_ray_validation() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(yaml.safe_load((ROOT / "cluster.yaml").read_text()))
    validate_config(config)
    gpu = [n for n in config["available_node_types"] if n.startswith("gpu")]
    assert gpu and all(config["available_node_types"][n]["min_workers"] == 0 for n in gpu)
