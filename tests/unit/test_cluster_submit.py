"""`adaptune submit` without a cluster: what it hands the Ray Jobs SDK, and its agent wait."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from tests.conftest import ROOT

from adaptune import cluster

JOB = str(ROOT / "jobs" / "quickstart.yaml")


class FakeClient:
    def __init__(self, refusals: int = 0) -> None:
        self.refusals = refusals  # answers "No available agent" this many times first
        self.calls: list[dict[str, Any]] = []

    def submit_job(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        if len(self.calls) <= self.refusals:
            raise RuntimeError(
                "Request failed with status code 500: No available agent to submit job, "
                "please try again later.."
            )
        return "raysubmit_test"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient()
    monkeypatch.setattr(cluster, "_client", lambda address: client)
    monkeypatch.setattr(cluster.time, "sleep", lambda s: None)
    return client


def test_submit_ships_project_package_and_settings(
    fake: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sid = cluster.submit(
        JOB,
        "http://127.0.0.1:8265",
        tracking_uri="http://mlflow:5000",
        storage_path="/shared/tune",
        overrides=["search.num_samples=2", "fixed.epochs=1"],
        excludes=["data/raw/", ".git/"],
    )
    assert sid == "raysubmit_test"
    (call,) = fake.calls
    assert shlex.split(call["entrypoint"]) == [
        "python", "-m", "adaptune", "search", "jobs/quickstart.yaml",
        "--set", "search.num_samples=2", "--set", "fixed.epochs=1",
    ]  # fmt: skip
    env = call["runtime_env"]
    assert env["working_dir"] == str(ROOT)
    assert {".venv/", ".adaptune/", ".git/", "data/raw/"} <= set(env["excludes"])
    assert len(env["excludes"]) == len(set(env["excludes"]))  # merged, not repeated
    assert env["py_modules"] == [str(ROOT / "platform" / "adaptune")]
    assert env["env_vars"] == {
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "ADAPTUNE_STORAGE_PATH": "/shared/tune",
        "HF_HUB_OFFLINE": "1",
    }


def test_submit_waits_for_the_job_agent(fake: FakeClient) -> None:
    fake.refusals = 2
    assert cluster.submit(JOB, "http://127.0.0.1:8265") == "raysubmit_test"
    assert len(fake.calls) == 3


def test_submit_says_where_to_look_when_no_agent_comes(
    fake: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.refusals = 10**6
    monkeypatch.setattr(cluster, "AGENT_WAIT_S", 0.0)
    with pytest.raises(RuntimeError, match=r"dashboard_agent\.log"):
        cluster.submit(JOB, "http://127.0.0.1:8265")


def test_a_bad_spec_never_reaches_the_cluster(fake: FakeClient) -> None:
    from adaptune.job.spec import SpecError

    with pytest.raises(SpecError):
        cluster.submit(JOB, "http://127.0.0.1:8265", overrides=["search.num_samples=0"])
    assert fake.calls == []


def test_submit_passes_mlflow_credentials_as_mlflows_variables(
    fake: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "correct-horse-battery"
    cluster.submit(JOB, "http://127.0.0.1:8265", tracking_uri=f"http://alice:{password}@ml:5000")
    (call,) = fake.calls
    env = call["runtime_env"]["env_vars"]
    assert env["MLFLOW_TRACKING_URI"] == "http://ml:5000"
    assert env["MLFLOW_TRACKING_USERNAME"] == "alice"
    assert env["MLFLOW_TRACKING_PASSWORD"] == password
    assert password not in call["entrypoint"] + str(call["metadata"])
