"""Shared test setup: every test gets its own state folder and no inherited MLflow URI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Ray clusters here use token auth (Ray's default for local ones); the mode is read once
# per process, so it is set before anything imports Ray: the multi-node test's clients
# (Jobs SDK) then present ~/.ray/auth_token like its `ray start` nodes expect.
os.environ.setdefault("RAY_AUTH_MODE", "token")


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTUNE_HOME", str(tmp_path / "state"))
    # mlflow.set_tracking_uri / set_registry_uri export these; set first so that monkeypatch
    # records them and restores the value from before the test, whatever the test exported
    # (a leaked MLFLOW_REGISTRY_URI sent later tests' subprocesses to another store).
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "RAY_ADDRESS"):
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
