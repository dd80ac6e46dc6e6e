"""Rehearse autoscaling on one machine: Ray's own autoscaler over its fake multi-node provider.

    config = fake_config(load_cluster("cluster.yaml"), gcs_address="127.0.0.1:40123")
    with LocalAutoscaler(Path("/tmp/adaptune-as"), config_of=...) as cl:  # a head, no workers
        cl.address                      # "127.0.0.1:40123": `adaptune search --address` it
        cl.nodes()                      # alive worker nodes: [(node id, node type)]

`fake_config` turns cluster.yaml's worker types into the fake provider's: the same type
names and min/max workers, each node scaled down to fit a 2-core machine (one CPU), and a
GPU type keeps its GPU count and gets Ray's ``accelerator_type:<GPU>`` resource, so a job
whose trials ask for that accelerator (``resources.accelerator_type``) lands its trials on
those nodes while the model trains on the CPU. With ``RAY_FAKE_CLUSTER=1``, ``ray start
--head --autoscaling-config`` runs the real autoscaler (Ray's monitor process), which starts
and stops real raylets on this machine as the nodes. Everything listens on 127.0.0.1; what
this module starts it stops by process id, never with ``ray stop`` (which stops every Ray
instance on the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

__all__ = [
    "FAKE_HEAD_TYPE",
    "LocalAutoscaler",
    "fake_config",
    "free_ports",
    "load_cluster",
    "node_groups_of",
]

# The fake provider tags its head with this type name, whatever the config calls it.
FAKE_HEAD_TYPE = "ray.head.default"
# GPUs of the AWS instance types cluster.yaml names, by instance family: (accelerator,
# count per size). A type not listed here is a CPU type unless its `resources` say GPU.
INSTANCE_GPUS: dict[str, tuple[str, dict[str, int]]] = {
    "g5": ("A10G", {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    "g6": ("L4", {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    "g4dn": ("T4", {"12xlarge": 4, "metal": 8}),
    "p3": ("V100", {"8xlarge": 4, "16xlarge": 8}),
    "p4d": ("A100", {}),
    "p4de": ("A100", {}),
    "p5": ("H100", {}),
}
EIGHT_GPU_FAMILIES = ("p4d", "p4de", "p5")
# Every field the launcher reads; the fake provider starts nodes itself, so all are empty.
LAUNCHER_FIELDS: dict[str, Any] = {
    "auth": {},
    "docker": {},
    "file_mounts": {},
    "cluster_synced_files": [],
    "file_mounts_sync_continuously": False,
    "rsync_exclude": [],
    "rsync_filter": [],
    "initialization_commands": [],
    "setup_commands": [],
    "head_setup_commands": [],
    "worker_setup_commands": [],
    "head_start_ray_commands": [],
    "worker_start_ray_commands": [],
}
LOOPBACK = "127.0.0.1"
NODE_TYPE_LABEL = "ray.io/node-group"  # the label Ray gives a node: its node type's name
START_TIMEOUT_S = 240.0


def load_cluster(path: str | Path) -> dict[str, Any]:
    """cluster.yaml as a dict; ValueError (one line) when it has no node types."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("available_node_types"), dict):
        raise ValueError(f"{path}: not a Ray cluster config (no available_node_types)")
    return data


def gpus_of(node_type: dict[str, Any]) -> tuple[str, int] | None:
    """(accelerator, count) of a node type: from its `resources` when they name GPUs (with
    an ``accelerator_type:X`` key), else from its AWS instance type; None for CPU types."""
    resources = node_type.get("resources") or {}
    named = [k.split(":", 1)[1] for k in resources if k.startswith("accelerator_type:")]
    if resources.get("GPU") and named:
        return named[0], int(resources["GPU"])
    instance = str((node_type.get("node_config") or {}).get("InstanceType", ""))
    family, _, size = instance.partition(".")
    if family not in INSTANCE_GPUS:
        return None
    accelerator, counts = INSTANCE_GPUS[family]
    return accelerator, counts.get(size, 8 if family in EIGHT_GPU_FAMILIES else 1)


# vCPUs of an AWS instance by its size (4 per xlarge in the families cluster.yaml names)
INSTANCE_CPUS = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32}
INSTANCE_CPUS |= {"12xlarge": 48, "16xlarge": 64, "24xlarge": 96, "48xlarge": 192}


def node_groups_of(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """A cluster config's worker types as the node groups an autoscaler may launch (the
    shape of driver/upstream.node_groups): each type's declared resources, else what its
    AWS instance type has (the cluster launcher fills these in too, from AWS's API)."""
    groups = []
    for name, spec in cluster["available_node_types"].items():
        if name == cluster.get("head_node_type"):
            continue
        resources = {k: float(v) for k, v in (spec.get("resources") or {}).items()}
        size = str((spec.get("node_config") or {}).get("InstanceType", "")).partition(".")[2]
        if "CPU" not in resources and size in INSTANCE_CPUS:
            resources["CPU"] = float(INSTANCE_CPUS[size])
        gpus = gpus_of(spec)
        if gpus is not None:
            resources.setdefault("GPU", float(gpus[1]))
            if not any(k.startswith("accelerator_type:") for k in resources):
                resources[f"accelerator_type:{gpus[0]}"] = 1.0
        low, high = int(spec.get("min_workers", 0)), int(spec.get("max_workers", 0))
        groups.append({"name": name, "resources": resources, "min": low, "max": high})
    return groups


def fake_config(
    cluster: dict[str, Any],
    *,
    gcs_address: str,
    cpus_per_node: float = 1.0,
    idle_timeout_s: float = 10.0,
) -> dict[str, Any]:
    """The fake provider's full autoscaling config for `cluster`'s worker types (the head
    becomes the provider's own head type, with no CPU and no accelerator)."""
    head = cluster.get("head_node_type")
    types: dict[str, Any] = {
        FAKE_HEAD_TYPE: {"resources": {"CPU": 0}, "node_config": {}, "max_workers": 0}
    }
    for name, spec in cluster["available_node_types"].items():
        if name == head:
            continue
        resources: dict[str, float] = {"CPU": cpus_per_node}
        gpus = gpus_of(spec)
        if gpus is not None:
            resources["GPU"] = gpus[1]
            resources[f"accelerator_type:{gpus[0]}"] = 1
        types[name] = {
            "resources": resources,
            # The type's own labels (a price, say) and its name, as Ray's label for it: the
            # fake provider starts its raylets in its own process, where Ray would not
            # find the type's name to label the node with.
            "labels": {**(spec.get("labels") or {}), NODE_TYPE_LABEL: name},
            "node_config": {},
            "min_workers": int(spec.get("min_workers", 0)),
            "max_workers": int(spec.get("max_workers", 0)),
        }
    return {
        "cluster_name": f"{cluster.get('cluster_name', 'adaptune')}-local",
        "max_workers": int(cluster.get("max_workers", 2)),
        "upscaling_speed": float(cluster.get("upscaling_speed", 1.0)),
        "idle_timeout_minutes": idle_timeout_s / 60.0,
        "provider": {
            "type": "fake_multinode",
            "use_node_id_as_ip": True,
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
            "gcs_address": gcs_address,
        },
        "available_node_types": types,
        "head_node_type": FAKE_HEAD_TYPE,
        **LAUNCHER_FIELDS,
    }


def free_ports(n: int) -> list[int]:
    """n distinct ports free right now on every address (other Ray instances on this
    machine hold Ray's defaults)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalAutoscaler:
    """A fake-provider head under `base` (its temp dir, config and logs); `config_of(gcs
    address)` gives the autoscaling config. Stops every process it started on exit."""

    def __init__(self, base: Path, config_of: Callable[[str], dict[str, Any]]) -> None:
        self.base, self.config_of = base, config_of
        self.marker = f"ADAPTUNE_LOCAL_AUTOSCALE={os.getpid()}-{time.time_ns()}"
        self.env = dict(os.environ)
        self.gcs_port = self.dashboard_port = 0

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.gcs_port}"

    @property
    def dashboard(self) -> str:
        return f"http://{LOOPBACK}:{self.dashboard_port}"

    def start(self) -> None:
        """`ray start --head` with the autoscaler; again on a fresh port if it failed (on a
        loaded 2-core machine a raylet can miss Ray's fixed registration wait)."""
        ray_bin = str(Path(sys.executable).parent / "ray")
        env = {**self.env, "RAY_FAKE_CLUSTER": "1", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
        key, _, value = self.marker.partition("=")
        env[key] = value
        env.pop("RAY_ADDRESS", None)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        env.setdefault("RAY_AUTH_MODE", "token")
        subprocess.run(  # token auth: ~/.ray/auth_token is created if missing, else kept
            [ray_bin, "get-auth-token", "--generate"], env=env, capture_output=True, timeout=60
        )
        error = ""
        for _ in range(3):
            shutil.rmtree(self.base, ignore_errors=True)
            self.base.mkdir(parents=True)
            self.gcs_port, self.dashboard_port, client, *agents = free_ports(6)
            config, settings = self.base / "autoscaling.yaml", self.config_of(self.address)
            config.write_text(yaml.safe_dump(settings, sort_keys=False))
            done = subprocess.run(
                [
                    ray_bin, "start", "--head",
                    f"--node-ip-address={LOOPBACK}",
                    f"--port={self.gcs_port}",
                    f"--temp-dir={self.base / 'ray'}",
                    f"--autoscaling-config={config}",
                    "--num-cpus=0", "--num-gpus=0",
                    "--include-dashboard=true",
                    f"--dashboard-host={LOOPBACK}",
                    f"--dashboard-port={self.dashboard_port}",
                    f"--ray-client-server-port={client}",
                    f"--dashboard-agent-listen-port={agents[0]}",
                    f"--dashboard-agent-grpc-port={agents[1]}",
                    f"--metrics-export-port={agents[2]}",
                    "--disable-usage-stats",
                ],
                env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S,
            )  # fmt: skip
            if done.returncode == 0:
                try:
                    self.publish(env, node_groups_of(settings))
                except Exception:
                    self.stop()
                    raise
                return
            error = (done.stdout + done.stderr)[-2000:]
            self.stop()
        raise RuntimeError(f"the local autoscaling head did not start: {error}")

    def publish(self, env: dict[str, str], groups: list[dict[str, Any]]) -> None:
        """Publish the node types in the GCS: Ray's autoscaler does not, and a search reads
        them there to place trials on nodes not launched yet (driver/nodes.py). In a child
        with the head's environment (its token auth, which this process may lack)."""
        code = (
            "import json, sys; from adaptune.driver.upstream import publish_node_groups; "
            "publish_node_groups(sys.argv[1], json.loads(sys.argv[2]))"
        )
        argv = [sys.executable, "-c", code, self.address, json.dumps(groups)]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"publishing the node types failed: {done.stderr[-1000:]}")

    def nodes(self) -> list[tuple[str, str]]:
        """Alive worker nodes as (node id, node type), from the GCS (Ray's state API)."""
        from ray.util.state import list_nodes

        alive = list_nodes(
            address=self.dashboard,
            filters=[("state", "=", "ALIVE")],
            raise_on_missing_output=False,  # a node going away mid-listing is not an error
        )
        return [(n.node_id, n.labels.get(NODE_TYPE_LABEL, "")) for n in alive if not n.is_head_node]

    def status(self) -> dict[str, Any]:
        """The autoscaler's last report (what `ray status` shows): its pending launches
        and the resource demand it saw; {} before its first."""
        from adaptune.driver.upstream import autoscaler_status

        return autoscaler_status(self.address)

    def pids(self) -> list[int]:
        """Processes this head started (they inherit the marker) or that keep files or
        their working folder under `base` (Ray's agents rename themselves)."""
        needle, base = self.marker.encode(), str(self.base)
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if base.encode() in (proc / "cmdline").read_bytes() or needle in (
                    proc / "environ"
                ).read_bytes().split(b"\0"):
                    found.append(int(proc.name))
        return found

    def stop(self) -> list[int]:
        """SIGTERM, then SIGKILL, every process of this cluster; returns any still left."""
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
            for pid in self.pids():
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.5)
        return self.pids()

    def __enter__(self) -> LocalAutoscaler:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def describe(config: dict[str, Any]) -> str:
    """One line per worker type: its name, worker range and what a node offers."""
    lines = []
    for name, spec in config["available_node_types"].items():
        if name == FAKE_HEAD_TYPE:
            continue
        res = json.dumps(spec["resources"], separators=(",", ":"))
        lines.append(f"{name}: {spec['min_workers']}..{spec['max_workers']} workers, {res}")
    return "\n".join(lines)
