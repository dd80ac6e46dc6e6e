"""Security defaults: loopback servers, safe YAML, weights-only checkpoints, no remote
code unless a job asks for it. (Secrets kept out of MLflow: test_secrets.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from tests.conftest import ROOT, write

from adaptune.job.spec import SpecError, load_job
from adaptune.method import Optimizers
from adaptune.methods.dallmi.config import DALLMiConfig
from adaptune.methods.dao.config import DAOConfig
from adaptune.train.checkpoint import STATE_FILE, load_state

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tracking_server_binds_loopback_by_default(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "adaptune", "--state-dir", str(tmp_path / "st"), "ui",
         "--server", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "platform")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline, listening = time.monotonic() + 120, []
        while not listening:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(1)
            for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]:
                try:
                    listening += [
                        c.laddr
                        for c in p.net_connections("inet")
                        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
                    ]
                except psutil.Error:
                    continue
        assert {a.ip for a in listening} == {"127.0.0.1"}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    job = write(
        tmp_path / "job.yaml",
        f'name: !!python/object/apply:os.system ["touch {marker}"]\nmethod: dao\n',
    )
    with pytest.raises(SpecError, match=r"job\.yaml:1"):
        load_job(job)
    assert not marker.exists()


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("true",))


def test_checkpoints_load_tensors_only(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 2)
    opt = Optimizers([torch.optim.SGD(model.parameters(), lr=0.1)], [])
    torch.save({"epoch": 1, "model": _Payload()}, tmp_path / STATE_FILE)
    with pytest.raises(Exception, match=r"[Ww]eights only"):
        load_state(tmp_path, model, opt, torch.Generator())


def test_remote_code_is_off_unless_a_job_asks() -> None:
    assert DAOConfig().trust_remote_code is False
    assert DALLMiConfig().trust_remote_code is False
