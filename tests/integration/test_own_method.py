"""Bring your own method: the example package examples/dann, installed into this venv
the way a user installs theirs, is listed with its package, keeps the contract, and is
searched and promoted from the CLI and from `at.search` like the built-in four.

Everything that must see the new entry point runs in a fresh interpreter: an editable
install is read at interpreter start, and this process built its registry before.
The install is offline (no index, no build isolation: setuptools is in the venv) and is
undone afterwards unless the package was installed before the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from tests.conftest import ROOT

from adaptune.tracking.names import Tag

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "examples" / "dann"
PACKAGE = "adaptune-dann"
TEXT = "long battery life and a sharp screen"


def _python(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _installed() -> bool:
    return _python("-m", "pip", "show", "-q", PACKAGE).returncode == 0


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    was = _installed()
    pip = _python(
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "-e",
        str(EXAMPLE),
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    yield
    if not was:  # leave the venv as the test found it
        _python("-m", "pip", "uninstall", "-q", "-y", PACKAGE)


def _env(state: Path) -> dict[str, str]:
    """A CLI process with its own state folder, no inherited MLflow store or Ray address."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RAY_ADDRESS"))}
    return {**env, "ADAPTUNE_HOME": str(state), "HF_HUB_OFFLINE": "1"}


def test_the_method_is_listed_with_its_package(installed: None, tmp_path: Path) -> None:
    out = _python("-m", "adaptune", "methods", "--json", "-", env=_env(tmp_path / "state"))
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["dann"]["package"] == PACKAGE, rows.get("dann")
    assert rows["dann"]["metric"] == "val/acc" and "grl_lambda" in rows["dann"]["config"]
    assert rows["dao"]["package"] == "adaptune"
    assert "left out" not in out.stderr  # no broken entry point in this venv


def test_the_package_keeps_the_contract(installed: None, tmp_path: Path) -> None:
    """The package's own contract line (examples/dann/tests): adaptune's check_method."""
    out = _python(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(EXAMPLE),
        str(EXAMPLE / "tests"),
        env=_env(tmp_path / "state"),
        timeout=300,
    )
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout + out.stderr


@pytest.fixture(scope="module")
def cli_search(installed: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The shipped example job, 2 trials, through `adaptune search` in its own process."""
    root = tmp_path_factory.mktemp("dann")
    out = _python(
        "-m",
        "adaptune",
        "search",
        str(EXAMPLE / "job.yaml"),
        "--set",
        "search.num_samples=2",
        "--state-dir",
        str(root / "state"),
        "--json",
        str(root / "s.json"),
        "-q",
        env=_env(root / "state"),
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    summary: dict[str, Any] = json.loads((root / "s.json").read_text())
    summary["state"] = str(root / "state")
    return summary


API_SEARCH = """
import json, sys
import adaptune as at
job = at.Job.from_yaml(sys.argv[1], overrides={"search.num_samples": 2})
r = at.search(job, state_dir=sys.argv[2])
print(json.dumps({
    "trials": r.counts["trials"], "completed": r.completed, "errored": r.counts["errored"],
    "test": r.best.test, "tracking_uri": r.tracking_uri, "parent_run_id": r.run_id,
    "promotion": {"promoted": r.champion.promoted}, "rows": len(r.trials_df()),
}))
"""


@pytest.fixture(scope="module")
def api_search(installed: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same job through `at.search`, in a fresh interpreter (the entry point is read at
    interpreter start)."""
    state = tmp_path_factory.mktemp("dann-api") / "state"
    job = str(EXAMPLE / "job.yaml")
    out = _python("-c", API_SEARCH, job, str(state), env=_env(state), timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    summary: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 2  # trials_df(): one row per trial
    summary["state"] = str(state)
    return summary


@pytest.fixture(params=["cli_search", "api_search"])
def searched(request: pytest.FixtureRequest) -> dict[str, Any]:
    summary: dict[str, Any] = request.getfixturevalue(request.param)
    return summary


def test_a_two_trial_search_runs_and_records_the_method(searched: dict[str, Any]) -> None:
    s = searched
    assert s["trials"] == 2 and not s["errored"] and s["completed"] >= 1, s
    assert 0.0 <= s["test"]["test/acc"] <= 1.0 and "test/domain_acc" in s["test"]
    client = mlflow.MlflowClient(s["tracking_uri"])
    parent = client.get_run(s["parent_run_id"])
    trials = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(trials) == 2
    assert {t.data.tags[Tag.METHOD] for t in trials} == {"dann"}
    assert all({"grl_lambda", "lr"} <= set(t.data.params) for t in trials)


def test_the_champion_is_promoted_and_serves_raw_text(searched: dict[str, Any]) -> None:
    """Loaded through MLflow's pyfunc in a fresh process, as a user would serve it."""
    assert searched["promotion"]["promoted"], searched["promotion"]
    code = (
        "import mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({searched['tracking_uri']!r})\n"
        f"mlflow.set_registry_uri({searched['tracking_uri']!r})\n"
        "m = mlflow.pyfunc.load_model('models:/dann@champion')\n"
        f"out = m.predict(pd.DataFrame({{'text': [{TEXT!r}]}}))\n"
        "print(out.to_json(orient='records'))\n"
    )
    out = _python("-c", code, env=_env(Path(searched["state"])), timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    (row,) = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["label"] in (0, 1) and 0.0 <= row["prob_positive"] <= 1.0
