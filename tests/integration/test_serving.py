"""After a tiny real search, as a user goes on: the champion served by `mlflow models serve`
answers real HTTP requests in the common shapes, loads where adaptune is not installed,
and `adaptune ui` prints a URL that opens the trial runs in the MLflow UI (headless
Chromium; skipped where it is not installed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import ray
from tests.conftest import write

from adaptune.cli import main

pytestmark = pytest.mark.integration

JOB = """\
name: served
method: dao
data: {source: synthetic-finsent, n_train: 64, seed: 5}
fixed: {epochs: 2, max_len: 16, batch_size: 8, warmup_steps: 1, lora_rank: 4}
search:
  space: space.yaml
  num_samples: 4
  metric: val/mse
  mode: min
  scheduler: {type: asha, grace_period: 1, reduction_factor: 2}
  seed: 2
resources: {workers_per_trial: 1, cpus_per_worker: 1}
promote: {model_name: served-dao}
"""
SPACE = "lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}\n"
TEXT = "The euro rallied after the ECB signalled more rate hikes."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("served")
    write(root / "space.yaml", SPACE)
    job = write(root / "job.yaml", JOB)
    state = root / "state"
    events = root / "events.jsonl"
    with pytest.MonkeyPatch.context() as mp:  # module scope: pin the store here
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{state / 'mlflow.db'}")
        try:
            argv = ["search", str(job), "--state-dir", str(state), "-q", "--json", "-"]
            code = main([*argv, "--events", str(events)])
        finally:
            ray.shutdown()
    yield {"exit_code": code, "state": state, "root": root, "events": events}


def _start(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    log = open(cwd / "server.log", "wb")  # noqa: SIM115 (the child writes it; closed below)
    try:
        return subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopped whole, by our pid
        )
    finally:
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def _post(port: int, payload: dict[str, Any] | str) -> tuple[int, Any]:
    """A JSON payload, or a str sent as CSV."""
    csv = isinstance(payload, str)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=payload.encode() if csv else json.dumps(payload).encode(),
        headers={"Content-Type": "text/csv" if csv else "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_the_quiet_search_finishes_with_json_and_events(search: dict[str, Any]) -> None:
    assert search["exit_code"] == 0
    events = [json.loads(line) for line in search["events"].read_text().splitlines()]
    kinds = {e["event"] for e in events}
    assert {"trial_started", "trial_result", "trial_finished", "search_finished"} <= kinds
    assert events[-1]["event"] == "search_finished"


def test_the_champion_answers_http_requests_in_the_common_shapes(
    search: dict[str, Any], tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{search['state'] / 'mlflow.db'}",
        # as in an activated venv: MLflow starts the scoring server as `uvicorn`
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/served-dao@champion"]
    proc = _start([*cmd, "--env-manager", "local", "-p", str(port)], env, tmp_path)
    try:
        _wait_http(f"http://127.0.0.1:{port}/ping", proc, tmp_path / "server.log")
        payloads: list[dict[str, Any] | str] = [
            {"inputs": [TEXT, "Stocks slumped."]},
            {"inputs": [{"text": TEXT}, {"text": "Stocks slumped."}]},
            {"dataframe_split": {"columns": ["text"], "data": [[TEXT], ["Stocks slumped."]]}},
            {"dataframe_records": [{"id": "7", "text": TEXT}, {"id": "8", "text": "Slump."}]},
            f'text\n"{TEXT}"\nStocks slumped.\n',  # CSV
        ]
        for payload in payloads:
            status, body = _post(port, payload)
            assert status == 200, (payload, body)
            rows = body["predictions"]
            assert len(rows) == 2 and {"score", "class", "label"} <= set(rows[0]), body
            assert -1.0 <= rows[0]["score"] <= 1.0
        status, body = _post(port, {"inputs": [{"text": TEXT}]})  # one record: was a TypeError
        assert status == 200 and len(body["predictions"]) == 1, body
        status, body = _post(port, {"dataframe_records": [{"id": "7"}]})
        assert status == 400 and "Model is missing inputs ['text']" in body["message"], body
        assert "LOAD REPORT" not in (tmp_path / "server.log").read_text(errors="replace")
    finally:
        _stop(proc)


def test_the_champion_loads_where_adaptune_is_not_installed(
    search: dict[str, Any], tmp_path: Path
) -> None:
    script = f"""
import sys
sys.path = [p for p in sys.path if not p.rstrip("/").endswith("/platform")]
try:
    import adaptune
    raise SystemExit("adaptune importable: the check proves nothing")
except ImportError:
    pass
import mlflow
mlflow.set_tracking_uri("sqlite:///{search["state"] / "mlflow.db"}")
model = mlflow.pyfunc.load_model("models:/served-dao@champion")
import adaptune
assert "/code/adaptune/" in adaptune.__file__, adaptune.__file__
print(len(model.predict({{"text": [{TEXT!r}]}})))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "1"


def test_the_model_has_a_signature_and_an_input_example(search: dict[str, Any]) -> None:
    store = f"sqlite:///{search['state'] / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)  # an earlier test's registry may still be set here
    info = mlflow.models.get_model_info("models:/served-dao@champion")
    assert info.signature is not None and info.signature.inputs.input_types()
    assert info.saved_input_example_info is not None


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="no Chromium here")
def test_the_url_adaptune_ui_prints_shows_the_trial_runs(
    search: dict[str, Any], tmp_path: Path
) -> None:
    port, answer = _free_port(), tmp_path / "ui.json"
    cmd = [sys.executable, "-m", "adaptune", "ui", "--state-dir", str(search["state"])]
    cmd += ["--port", str(port), "--no-open", "--json", str(answer)]
    proc = _start(cmd, dict(os.environ), tmp_path)
    try:
        deadline = time.monotonic() + 240  # the JSON is written once the UI answers
        while not answer.exists() or not answer.read_text().strip().endswith("}"):
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "server.log"
            ).read_text(errors="replace")[-3000:]
            time.sleep(1)
        url = json.loads(answer.read_text())["url"]
        assert url.startswith(f"http://127.0.0.1:{port}/#/experiments/")
        assert "workflowType=machine_learning" in url
        profile = tempfile.mkdtemp()
        dom = subprocess.run(
            [
                str(_chromium()),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--window-size=1400,900",
                "--virtual-time-budget=20000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        ).stdout
        shutil.rmtree(profile, ignore_errors=True)
        client = mlflow.MlflowClient(f"sqlite:///{search['state'] / 'mlflow.db'}")
        trials = client.search_runs(
            [e.experiment_id for e in client.search_experiments()],
            filter_string="tags.`adaptune.kind` = 'trial'",
        )
        assert trials
        for run in trials:  # every trial run is in the table, under its outcome name
            assert run.info.run_name in dom, run.info.run_name
    finally:
        _stop(proc)
