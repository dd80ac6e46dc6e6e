"""A real search end to end: local Ray, Tune + Optuna + ASHA, Ray Train workers, MLflow.

One 12-trial DAO search on tiny data (2 CPUs: two trials at a time) backs every test
here; it takes a few minutes, most of it Ray Train starting worker groups. It runs from
another folder than the job's, whose data and test files are named relative to the job.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import ray
from tests.conftest import write

import adaptune
from adaptune.autoscale import free_ports
from adaptune.cli import main
from adaptune.job.pricing import DEFAULT_USD_PER_CPU_HOUR
from adaptune.methods.dao.data import generate_finsent
from adaptune.tracking.names import Cost

pytestmark = pytest.mark.integration

JOB = """\
name: tiny
method: dao
data: {source: file, path: data/train.csv, test_path: data/test.csv, n_train: 96, seed: 1}
fixed: {epochs: 3, max_len: 16, batch_size: 8, warmup_steps: 2, lora_rank: 4, log_every: 2}
search:
  space: space.yaml
  sampler: tpe
  num_samples: 12
  metric: val/mse
  mode: min
  scheduler: {type: asha, grace_period: 1, reduction_factor: 3}
  seed: 0
resources: {workers_per_trial: 1, cpus_per_worker: 1}
promote: {model_name: tiny-dao}
"""
SPACE = """\
lr: {type: float, low: 1.0e-6, high: 3.0e-3, log: true}
dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
"""


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("search")
    write(root / "space.yaml", SPACE)
    job = write(root / "job.yaml", JOB)
    (root / "data").mkdir()
    for name, n, seed in (("train", 96, 1), ("test", 20, 2)):
        with (root / "data" / f"{name}.csv").open("w", newline="") as f:
            texts, scores = generate_finsent(n, seed)
            csv.writer(f).writerows([("text", "score"), *zip(texts, scores, strict=True)])
    state = root / "state"
    started = time.monotonic()
    here = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("elsewhere"))  # the paths resolve next to the job file
    try:
        argv = ["--state-dir", str(state), "search", str(job), "--json", str(root / "s.json")]
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            code = main(argv)
    finally:
        os.chdir(here)
    summary = json.loads((root / "s.json").read_text())
    summary["exit_code"], summary["elapsed"] = code, time.monotonic() - started
    summary["printed"] = printed.getvalue()
    summary["cpus_free"] = _wait_cpus_free()
    yield summary
    ray.shutdown()


def _wait_cpus_free(timeout: float = 90.0) -> bool:
    """Train V2 releases a stopped trial's placement group asynchronously; give it time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ray.available_resources().get("CPU", 0) == ray.cluster_resources()["CPU"]:
            return True
        time.sleep(1)
    return False


def _trial_runs(summary: dict[str, Any]) -> list[Any]:
    client = mlflow.MlflowClient(summary["tracking_uri"])
    parent = client.get_run(summary["parent_run_id"])
    return list(
        client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
    )


def test_search_finishes_with_asha_stopping_trials(search: dict[str, Any]) -> None:
    assert search["exit_code"] == 0
    assert search["trials"] == 12 and not search["errored"]
    assert len(search["stopped"]) >= 4, search["stopped"]
    assert search["completed"] >= 1
    assert search["completed"] + len(search["stopped"]) == 12
    assert "waiting for nodes" not in search["printed"]  # a local cluster launches none


def test_every_cpu_is_free_after_the_search(search: dict[str, Any]) -> None:
    # The trap: Train V2 kept a stopped trial's worker group and the next trial hung.
    assert search["cpus_free"]


def test_one_nested_mlflow_run_per_trial(search: dict[str, Any]) -> None:
    runs = _trial_runs(search)
    assert len(runs) == 12
    # named by outcome then trial id ("stopped@1 ab12", "completed ab12", "★ best ab12")
    assert all(r.info.run_name.endswith(" " + r.data.tags["adaptune.trial_id"]) for r in runs)
    statuses = {r.data.tags["adaptune.status"] for r in runs}
    assert statuses == {"completed", "stopped"}
    for run in runs:  # stopped is not failed: a stopped trial's run ends FINISHED
        assert run.info.status == "FINISHED"
        if run.data.tags["adaptune.status"] == "stopped":
            epoch = run.data.tags["adaptune.stopped_at"]
            assert run.data.tags["adaptune.status_text"] == f"stopped by ASHA at epoch {epoch}"
    client = mlflow.MlflowClient(search["tracking_uri"])
    for run in runs:
        assert run.data.params["epochs"] == "3" and "lr" in run.data.params  # full config
        history = client.get_metric_history(run.info.run_id, "val/mse")
        assert [m.step for m in history] == list(range(1, len(history) + 1))
        # DAO's weight w_c per optimiser step (log_every 2 here), not only per epoch
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "dao_step/w_c")]
        assert len(steps) > len(history) and steps == sorted(set(steps)) and steps[0] == 1
        # tracking.log_models: best (the default) logs the chosen trial's model alone
        assert ("adaptune.model_uri" in run.data.tags) == (
            run.data.tags["adaptune.trial_id"] == search["best_trial"]
        )


def test_the_search_keeps_its_trained_weights_only(search: dict[str, Any]) -> None:
    """One logged model, of adapters and heads (no backbone weights), and no checkpoint
    left in Ray storage once the search is over; the summary says what it wrote."""
    state = Path(search["tracking_uri"].removeprefix("sqlite:///")).parent
    assert not list((state / "ray").rglob("checkpoint_*"))
    models = list((state / "mlartifacts" / "models").iterdir())
    assert len(models) == 1
    size = sum(f.stat().st_size for f in models[0].rglob("*") if f.is_file())
    assert size < 5 * 2**20 and not list(models[0].rglob("model.safetensors"))
    assert 0 < search["disk"]["artifacts"] < 10 * 2**20 and search["disk"]["ray"] > 0


def test_the_cost_ledger_prices_every_trial_and_the_search(search: dict[str, Any]) -> None:
    """Default pricing on the embedded cluster: a CPU-hour price, node type "local"."""
    runs = _trial_runs(search)
    for run in runs:
        assert run.data.tags[Cost.NODE_TYPE] == "local"
        hours, usd = float(run.data.tags[Cost.HOURS]), float(run.data.tags[Cost.USD])
        assert Cost.USD not in run.data.metrics  # no single-point chart on the trial page
        assert hours > 0 and usd == pytest.approx(hours * DEFAULT_USD_PER_CPU_HOUR)
    client = mlflow.MlflowClient(search["tracking_uri"])
    totals = client.get_run(search["parent_run_id"]).data.metrics
    assert totals[Cost.USD] == pytest.approx(sum(float(r.data.tags[Cost.USD]) for r in runs))
    hours = sum(float(r.data.tags[Cost.HOURS]) for r in runs)
    assert totals[Cost.CPU_HOURS] == pytest.approx(hours)
    assert totals[Cost.GPU_HOURS] == 0.0
    assert totals[Cost.USD_SAVED] > 0  # ASHA stopped trials
    assert search["cost_usd"] == pytest.approx(totals[Cost.USD])  # --json
    assert search["usd_saved"] == pytest.approx(totals[Cost.USD_SAVED])


def test_the_chosen_trial_alone_is_scored_on_test(search: dict[str, Any]) -> None:
    """Val chose the winner; its held-out test score is recorded beside it, on its run
    and on the search run, and no other trial's test score reaches MLflow."""
    assert set(search["test"]) >= {"test/mse", "test/acc"}
    client = mlflow.MlflowClient(search["tracking_uri"])
    for run in _trial_runs(search):
        is_best = run.data.tags["adaptune.trial_id"] == search["best_trial"]
        assert ("test/mse" in run.data.metrics) == is_best
        if is_best:
            assert run.data.metrics["test/mse"] == pytest.approx(search["test"]["test/mse"])
    parent = client.get_run(search["parent_run_id"]).data
    assert parent.metrics["test/mse"] == pytest.approx(search["test"]["test/mse"])
    assert parent.tags["adaptune.best_trial"] == search["best_trial"]
    assert not search["final"] and not search["reruns"]  # final.seeds defaults to 0


def test_champion_is_registered_and_predicts_raw_text(search: dict[str, Any]) -> None:
    promotion = search["promotion"]
    assert promotion["promoted"] and promotion["version"] == "1"
    mlflow.set_tracking_uri(search["tracking_uri"])
    mlflow.set_registry_uri(search["tracking_uri"])
    model = mlflow.pyfunc.load_model("models:/tiny-dao@champion")
    out = model.predict({"text": ["The euro rallied after the ECB signalled more hikes."]})
    assert len(out) == 1 and -1.0 <= out["score"][0] <= 1.0
    assert out["label"][0] in {
        "strongly negative",
        "negative",
        "neutral",
        "positive",
        "strongly positive",
    }


def test_the_printed_commands_run_from_another_folder(
    search: dict[str, Any], tmp_path: Path
) -> None:
    """`adaptune show` and `report` as the summary's `next:` block prints them, copied
    into another folder (whose ./.adaptune, like $ADAPTUNE_HOME here, is not the state)."""
    commands = [
        shlex.split(line, comments=True)
        for line in search["printed"].splitlines()
        if line.strip().startswith("adaptune ")
    ]
    wanted = [c for c in commands if {"show", "report"} & set(c)]
    assert len(wanted) == 2, search["printed"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(Path(adaptune.__file__).parents[1])  # this checkout's adaptune
    for argv in wanted:
        done = subprocess.run(
            [sys.executable, "-m", *argv],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        assert search["search"] in done.stdout
    assert not (elsewhere / ".adaptune").exists() and not (elsewhere / "mlflow.db").exists()


def test_promoting_again_keeps_the_champion_on_a_tie(
    search: dict[str, Any], capsys: pytest.CaptureFixture
) -> None:
    state = str(Path(search["tracking_uri"].removeprefix("sqlite:///")).parent)
    assert main(["--state-dir", state, "promote", search["search"]]) == 0
    assert "already champion: v1 is this trial's model" in capsys.readouterr().out  # no new version
    # the job's promote.rule is recorded on the search run; --rule overrides it
    parent = mlflow.MlflowClient(search["tracking_uri"]).get_run(search["parent_run_id"])
    assert parent.data.tags["adaptune.promote_rule"] == "better"
    argv = ["--state-dir", state, "promote", search["search"], "--dry-run", "--json", "-"]
    assert main([*argv, "--rule", "significant"]) == 0
    assert '"rule": "significant"' in capsys.readouterr().out


def _state_of(search: dict[str, Any]) -> Path:
    return Path(search["tracking_uri"].removeprefix("sqlite:///")).parent


def test_optuna_dashboard_shows_the_study_with_stopped_trials_pruned(
    search: dict[str, Any],
) -> None:
    """`adaptune dashboard NAME` serves the search's Optuna study (stored as it ran): one
    trial per Tune trial, those ASHA stopped pruned with the value they were stopped on."""
    (port,) = free_ports(1)
    argv = ["--state-dir", str(_state_of(search)), "dashboard", search["search"], "--no-open"]
    env = {**os.environ, "PYTHONPATH": str(Path(adaptune.__file__).parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "adaptune", *argv, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = [proc.stdout.readline() for _ in range(2)]
        page = printed[1].split()[0]
        assert page.startswith(f"http://127.0.0.1:{port}/dashboard/studies/"), printed
        with urllib.request.urlopen(page, timeout=60) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
        api = page.replace("/dashboard/studies/", "/api/studies/")
        with urllib.request.urlopen(api, timeout=60) as r:
            study = json.loads(r.read())
    finally:
        proc.terminate()
        proc.wait(30)
    assert study["name"] == search["search"]
    states = Counter(t["state"] for t in study["trials"])
    assert states == {"Complete": search["completed"], "Pruned": len(search["stopped"])}
    assert all(t["values"] and t["intermediate_values"] for t in study["trials"])


def test_rerun_trains_the_chosen_trial_again_with_seeds(
    search: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(_state_of(search))
    client = mlflow.MlflowClient(search["tracking_uri"])
    chosen = next(r for r in _trial_runs(search) if r.data.tags.get("adaptune.trial_id"))
    trial = chosen.data.tags["adaptune.trial_id"]

    assert main(["--state-dir", state, "rerun", search["search"], "nosuchtrial"]) == 2
    assert "its trials: " in capsys.readouterr().err

    out = Path(state) / "rerun.json"
    argv = ["--state-dir", state, "rerun", search["search"], trial, "--seeds", "1", "-q"]
    sets = ["--set", "fixed.epochs=1", "--set", "promote.enabled=false"]
    assert main([*argv, *sets, "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["trials"] == 1 and summary["completed"] == 1
    parent = client.get_run(summary["parent_run_id"])
    assert parent.data.tags["adaptune.rerun_of"] == f"{search['search']} {trial}"
    runs = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    kinds = Counter(r.data.tags.get("adaptune.kind") for r in runs)
    assert kinds == {"trial": 1, "rerun": 1}, kinds
    (again,) = [r for r in runs if r.data.tags.get("adaptune.kind") == "trial"]
    for name in ("lr", "dao_lr"):  # the chosen trial's values, exactly
        assert again.data.params[name] == chosen.data.params[name]
