"""Shared test setup: every test gets its own state folder and no inherited MLflow URI."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Ray clusters here use token auth (Ray's default for local ones); the mode is read once
# per process, so it is set before anything imports Ray: the multi-node test's clients
# (Jobs SDK) then present ~/.ray/auth_token like its `ray start` nodes expect.
os.environ.setdefault("RAY_AUTH_MODE", "token")
# Ray's session folders (logs, spilled objects, runtime envs) of every cluster the suite
# starts, in-process or in a CLI subprocess, go to one folder removed at the end (a short
# path: Ray's unix sockets live there). A folder set from outside is left alone.
RAY_TMP = None if os.environ.get("RAY_TMPDIR") else tempfile.mkdtemp(prefix="adt-ray-")
if RAY_TMP:
    os.environ["RAY_TMPDIR"] = RAY_TMP


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if RAY_TMP:
        ray = sys.modules.get("ray")
        if ray is not None:  # the suite's own cluster, if still up, before its folder goes
            ray.shutdown()
        shutil.rmtree(RAY_TMP, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTUNE_HOME", str(tmp_path / "state"))
    # mlflow.set_tracking_uri / set_registry_uri export these; set first so that monkeypatch
    # records them and restores the value from before the test, whatever the test exported
    # (a leaked MLFLOW_REGISTRY_URI sent later tests' subprocesses to another store).
    # A tracking URI's user:password@ is moved into MLflow's credential variables.
    credentials = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "RAY_ADDRESS", *credentials):
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@contextlib.contextmanager
def local_autoscaler(tag: str, spec: dict[str, Any], idle_s: float) -> Iterator[Any]:
    """A LocalAutoscaler head (adaptune/autoscale.py) of `spec`'s fake node types on
    127.0.0.1, stopped after, with nothing of it left running."""
    from adaptune.autoscale import LocalAutoscaler, fake_config

    head = LocalAutoscaler(
        Path(f"/tmp/adaptune-test-{tag}-{os.getpid()}"),  # short: Ray's socket paths are bounded
        lambda gcs: fake_config(spec, gcs_address=gcs, idle_timeout_s=idle_s),
    )
    try:
        head.start()
        yield head
    finally:
        left = head.stop()
        assert not left, f"processes of the test cluster still running: {left}"
        shutil.rmtree(head.base, ignore_errors=True)
