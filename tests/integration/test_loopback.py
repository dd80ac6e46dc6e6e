"""A plain local search listens on loopback only: every listening socket of every process
it starts (the GCS, raylet, dashboard agent, the runtime-env agent, both Prometheus
metrics exporters, workers and trial actors; and Ray's dashboard with --ray-dashboard) is
bound to 127.0.0.1 or ::1, sampled the whole time the search runs. (The MLflow UI's own
test: test_security.py.)"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from tests.conftest import ROOT, write

pytestmark = pytest.mark.integration

JOB = """\
name: loopback
method: dao
data: {source: synthetic-finsent, n_train: 64, seed: 2}
fixed: {epochs: 2, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 4}
search:
  space: space.yaml
  sampler: random
  num_samples: 2
  max_concurrent: 1
  scheduler: {type: fifo}
resources: {workers_per_trial: 1, cpus_per_worker: 1}
promote: {enabled: false}
"""
SPACE = "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n"

Socket = tuple[str, str, int]  # (process, ip, port)


def _loopback(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def _listening(root: int) -> set[Socket]:
    """Every listening TCP/UDP socket of `root` and its descendants."""
    out: set[Socket] = set()
    try:
        procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
    except psutil.Error:
        return out
    for p in procs:
        try:
            name = p.name()
            conns = p.net_connections("inet")
        except psutil.Error:
            continue
        for c in conns:
            udp_bound = c.type == 2 and c.laddr  # SOCK_DGRAM: bound, no LISTEN state
            if (c.status == psutil.CONN_LISTEN or udp_bound) and c.laddr:
                out.add((name, c.laddr.ip, c.laddr.port))
    return out


@pytest.mark.parametrize("flags", [[], ["--ray-dashboard"]], ids=["plain", "dashboard"])
def test_a_running_search_listens_on_loopback_only(tmp_path: Path, flags: list[str]) -> None:
    job = write(tmp_path / "job.yaml", JOB)
    write(tmp_path / "space.yaml", SPACE)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    out = tmp_path / "out.txt"
    state = str(tmp_path / "st")
    driver = subprocess.Popen(
        [sys.executable, "-m", "adaptune", "--state-dir", state, "search", str(job), *flags],
        env=env,
        stdout=out.open("w"),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: set[Socket] = set()
    deadline = time.monotonic() + 600
    try:
        while driver.poll() is None:
            assert time.monotonic() < deadline, "the search did not finish in 10 minutes"
            seen |= _listening(driver.pid)
            time.sleep(0.5)
        stderr = driver.stderr.read() if driver.stderr else ""
        assert driver.returncode == 0, stderr[-3000:]
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait(30)
    names = {name for name, _, _ in seen}
    print("\n".join(f"{n:28s} {ip}:{port}" for n, ip, port in sorted(seen)))
    # the sampling saw the cluster at work: its core services and a trial's process
    assert {"gcs_server", "raylet"} <= names, names
    assert any(n.startswith("ray::") for n in names), names
    exposed = sorted(s for s in seen if not _loopback(s[1]))
    assert exposed == [], f"listening beyond loopback: {exposed}"
    # the dashboard (its own process and agents) only when asked: trials in their actor
    # need none of it, and it costs ~2 s of a search's start
    announced = "Ray dashboard: http://127.0.0.1:" in out.read_text()
    assert announced == bool(flags), out.read_text()[-2000:]
