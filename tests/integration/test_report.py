"""The report of a small real search (local Ray, Tune + Optuna + ASHA, MLflow): every
artefact is logged, the CSV has one row per Tune trial, and the page opens in headless
Chromium with every image decoded (skipped where Chromium is not installed)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
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
name: reported
method: dao
data: {source: synthetic-finsent, n_train: 64, seed: 3}
fixed: {epochs: 2, max_len: 16, batch_size: 8, warmup_steps: 1, lora_rank: 4}
search:
  space: space.yaml
  num_samples: 4
  metric: val/mse
  mode: min
  scheduler: {type: asha, grace_period: 1, reduction_factor: 2}
  seed: 1
resources: {workers_per_trial: 1, cpus_per_worker: 1}
promote: {model_name: reported-dao}
"""
SPACE = """\
lr: {type: float, low: 1.0e-5, high: 3.0e-3, log: true}
dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
"""
ARTEFACTS = {
    "trials.csv",
    "best_so_far.png",
    "best_so_far.csv",
    "importance.png",
    "importance.csv",
    "parallel_coordinates.png",
    "slice_lr.png",
    "slice_dao_lr.png",
    "rungs.png",
    "rungs.csv",
    "report.html",
}


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("report")
    write(root / "space.yaml", SPACE)
    job = write(root / "job.yaml", JOB)
    state = root / "state"
    # Module scope runs before conftest's isolation: pin the store here (MLflow exports
    # MLFLOW_TRACKING_URI; the context undoes that afterwards).
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{state / 'mlflow.db'}")
        try:
            code = main(
                ["--state-dir", str(state), "search", str(job), "--json", str(root / "s.json")]
            )
        finally:
            ray.shutdown()
    summary = json.loads((root / "s.json").read_text())
    summary.update(exit_code=code, state=state, root=root)
    yield summary


def test_the_search_run_holds_every_report_artefact(search: dict[str, Any]) -> None:
    assert search["exit_code"] == 0
    client = mlflow.MlflowClient(search["tracking_uri"])
    listed = {Path(a.path).name for a in client.list_artifacts(search["parent_run_id"], "report")}
    assert listed >= ARTEFACTS, ARTEFACTS - listed


def test_the_csv_has_one_row_per_tune_trial(search: dict[str, Any], tmp_path: Path) -> None:
    client = mlflow.MlflowClient(search["tracking_uri"])
    path = client.download_artifacts(search["parent_run_id"], "report/trials.csv", str(tmp_path))
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text())))
    assert len(rows) == search["trials"] == 4
    expected = set(search["stopped"]) | set(search["errored"])
    assert expected <= {r["trial_id"] for r in rows}
    for r in rows:
        assert r["status"] in {"completed", "stopped"} and int(r["epochs_run"]) >= 1
        assert float(r["best_value"]) <= float(r["final_value"]) and float(r["wall_s"]) > 0
        assert r["lr"] and r["dao_lr"] and r["epochs"] == "2"
    assert sum(r["status"] == "completed" for r in rows) == search["completed"]


def test_report_command_rebuilds_and_prints_the_page(
    search: dict[str, Any], capsys: pytest.CaptureFixture
) -> None:
    capsys.readouterr()
    args = ["--state-dir", str(search["state"]), "report", search["search"], "--open"]
    assert main(args) == 0
    page = Path(capsys.readouterr().out.strip())
    assert page == search["state"] / "reports" / f"{search['search']}.html"
    text = page.read_text()
    assert "reported-dao v1 from this search holds @champion" in text
    assert main(["--state-dir", str(search["state"]), "report", "no-such-search"]) == 2


CHECK = """<script>addEventListener("load", () => { const i = [...document.images];
document.title = `images ${i.length} broken ${i.filter(x => !x.naturalWidth).length}`; });
</script></body>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tempfile.mkdtemp()}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run(
        [binary, *flags, *args], capture_output=True, text=True, timeout=120, check=True
    )


def test_the_page_opens_in_headless_chromium(search: dict[str, Any]) -> None:
    page = search["state"] / "reports" / f"{search['search']}.html"
    checked = search["root"] / "checked.html"
    checked.write_text(page.read_text().replace("</body>", CHECK))
    out = _chromium("--dump-dom", checked.as_uri())
    assert "<title>images 7 broken 0</title>" in out.stdout  # curve, learning curves,
    # importance, parallel, two slices, rungs: every one decoded
    errors = [ln for ln in out.stderr.splitlines() if "CONSOLE" in ln or "Failed to load" in ln]
    assert not errors, errors
    shot = Path(os.environ.get("ADAPTUNE_REPORT_SCREENSHOT", search["root"] / "report.png"))
    _chromium("--hide-scrollbars", "--window-size=1300,4200", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
