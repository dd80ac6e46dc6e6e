"""Search algorithms end to end (local Ray, Tune + Optuna, real MLflow): four tiny searches
in one Ray instance and one MLflow store, each through features of its own.

A  DAO, TPE with sampler_options (2 start-up trials, multivariate, grouped, constant liar)
   and Ray's HyperBandScheduler (a trial paused at a rung restarts from its checkpoint).
B  DAO, Optuna's GPSampler, MedianStoppingRule, warm-started from A (same space, fixed
   values and data: A's best two are told to the sampler, not re-trained).
C  DAO over a conditional space (dao_lr only when lora_rank is 8, define-by-run),
   warm-started from the champion A or B promoted (another space: enqueued, re-trained).
D  jobs/mad_pareto.yaml shrunk by --set: NSGA-II on accuracy vs added parameters over a
   conditional space, constraints, ASHA on the first objective, the Pareto front and the
   champion picked on it.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import ray
from tests.conftest import ROOT, write

from adaptune.cli import main

pytestmark = pytest.mark.integration

DAO = """\
name: {name}
method: dao
data: {{source: synthetic-finsent, n_train: 48, seed: 0}}
fixed: {{epochs: 2, max_len: 16, lora_rank: 4, batch_size: 8}}
search:
  space: space.yaml
  num_samples: {n}
  metric: val/mse
  mode: min
  seed: 0
{search}
resources: {{workers_per_trial: 1, cpus_per_worker: {cpus}}}
tracking: {{experiment: algorithms}}
promote: {{model_name: algo-dao}}
"""
SPACE = """\
lr: {type: float, low: 1.0e-6, high: 3.0e-3, log: true}
dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
"""
A = """\
  sampler: tpe
  sampler_options: {n_startup_trials: 2, multivariate: true, group: true, constant_liar: true}
  scheduler: {type: hyperband, reduction_factor: 2}
"""
B = """\
  sampler: gp
  sampler_options: {n_startup_trials: 2}
  scheduler: {type: median, grace_period: 1, min_samples_required: 1}
  warm_start: {from: algo-a, top_k: 2}
"""
C_JOB = """\
name: algo-c
method: dao
data: {source: synthetic-finsent, n_train: 48, seed: 0}
fixed: {epochs: 2, max_len: 16, batch_size: 8}
search:
  space: conditional.yaml
  sampler: tpe
  sampler_options: {n_startup_trials: 1}
  num_samples: 3
  metric: val/mse
  mode: min
  scheduler: {type: fifo}
  warm_start: {from: champion}
  seed: 1
resources: {workers_per_trial: 1, cpus_per_worker: 1}
tracking: {experiment: algorithms}
promote: {model_name: algo-dao, enabled: false}
"""
CONDITIONAL = """\
lr: {type: float, low: 1.0e-6, high: 3.0e-3, log: true}
lora_rank: {type: categorical, choices: [4, 8]}
dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true, when: {lora_rank: 8}}
"""
MAD_TINY = [
    "data.n_train=60",
    "data.val_fraction=0.25",
    "data.options={size: 16}",
    "fixed={width: 4, epochs: 2, batch_size: 16, pretrain_epochs: 1}",
    "search.num_samples=5",
    "search.sampler_options={population_size: 4}",
    "search.scheduler={type: asha, grace_period: 1, reduction_factor: 2}",
    'search.constraints=["val/acc >= 0.05"]',
    "tracking.experiment=algorithms-mad",
]


def _search(state: Path, job: Path, out: Path, sets: list[str] | None = None) -> dict[str, Any]:
    argv = ["--state-dir", str(state), "search", str(job), "--json", str(out)]
    for s in sets or []:
        argv += ["--set", s]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(argv)
    summary = json.loads(out.read_text()) if out.exists() else {}
    return {**summary, "exit_code": code, "stdout": printed.getvalue()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("algorithms")
    state = root / "state"
    write(root / "space.yaml", SPACE)
    write(root / "conditional.yaml", CONDITIONAL)
    out: dict[str, dict[str, Any]] = {}
    # A: half a CPU per trial, so all four start at once and each HyperBand bracket
    # holds its two trials from the start (a bracket halves the trials it holds when
    # they all reached its rung: a trial arriving later would find it halved already).
    for key, name, n, search, cpus in (("a", "algo-a", 4, A, 0.5), ("b", "algo-b", 3, B, 1)):
        text = DAO.format(name=name, n=n, search=search, cpus=cpus)
        job = write(root / f"{key}.yaml", text)
        out[key] = _search(state, job, root / f"{key}.json")
    out["c"] = _search(state, write(root / "c.yaml", C_JOB), root / "c.json")
    mad = ROOT / "jobs" / "mad_pareto.yaml"
    out["d"] = _search(state, mad, root / "d.json", MAD_TINY)
    yield out
    ray.shutdown()


def _client(summary: dict[str, Any]) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(summary["tracking_uri"])


def _trial_runs(summary: dict[str, Any]) -> list[Any]:
    client = _client(summary)
    parent = client.get_run(summary["parent_run_id"])
    return list(
        client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}' "
            "and tags.`adaptune.kind` = 'trial'",
        )
    )


def _started(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The sampled params of each trial, in start order, from the progress lines."""
    found = re.findall(r"\] \S+ started: (.*)", summary["stdout"])
    return [dict(kv.split("=", 1) for kv in line.split(", ")) for line in found]


def _report_files(summary: dict[str, Any]) -> set[str]:
    return {
        Path(a.path).name
        for a in _client(summary).list_artifacts(summary["parent_run_id"], "report")
    }


def test_tpe_with_sampler_options_under_hyperband(runs: dict[str, dict[str, Any]]) -> None:
    a = runs["a"]
    assert a["exit_code"] == 0, a["stdout"][-3000:]
    assert a["trials"] == 4 and not a["errored"] and a["completed"] >= 1
    search_run = _client(a).get_run(a["parent_run_id"])
    assert search_run.data.params["scheduler.type"] == "hyperband"
    assert "multivariate" in search_run.data.params["search.sampler_options"]
    # HyperBand's second bracket (r0 = 1 epoch, 2 trials) halves: one trial stops at 1
    assert a["stopped"] and set(a["stopped"].values()) == {1}, a["stdout"][-3000:]
    texts = {r.data.tags["adaptune.status_text"] for r in _trial_runs(a)}
    assert "stopped by HyperBand at epoch 1" in texts
    assert "rungs.csv" in _report_files(a)


def test_gp_under_median_stopping_warm_started_from_an_earlier_search(
    runs: dict[str, dict[str, Any]],
) -> None:
    b = runs["b"]
    assert b["exit_code"] == 0, b["stdout"][-3000:]
    assert "warm start from search algo-a-" in b["stdout"]
    assert "2 configs told to the sampler as results" in b["stdout"]
    assert b["trials"] == 3 and not b["errored"]  # the told configs were not re-trained
    params = _client(b).get_run(b["parent_run_id"]).data.params
    assert (params["search.sampler"], params["scheduler.type"]) == ("gp", "median")
    for r in _trial_runs(b):
        if r.data.tags["adaptune.status"] == "stopped":
            assert r.data.tags["adaptune.status_text"].startswith("stopped by median stopping")


def test_conditional_space_warm_started_from_the_champion(
    runs: dict[str, dict[str, Any]],
) -> None:
    c = runs["c"]
    assert c["exit_code"] == 0, c["stdout"][-3000:]
    assert "warm start from champion algo-dao: 1 configs enqueued" in c["stdout"]
    client = _client(c)
    champion = client.get_model_version_by_alias("algo-dao", "champion")
    champ_lr = float(client.get_run(champion.tags["adaptune.run_id"]).data.params["lr"])
    started = _started(c)  # in the order the trials started, not always that of suggestion
    assert len(started) == 3
    enqueued = [p for p in started if float(p["lr"]) == pytest.approx(champ_lr, rel=1e-3)]
    assert enqueued, (champ_lr, started)  # the progress line shows 4 significant digits
    assert enqueued[0]["lora_rank"] == "4"  # the champion's value (fixed in A and B)
    for params in started:  # define-by-run: dao_lr only where lora_rank is 8
        assert ("dao_lr" in params) == (params["lora_rank"] == "8"), params


def test_mad_pareto_job_holds_the_front_and_the_picked_champion(
    runs: dict[str, dict[str, Any]],
) -> None:
    d = runs["d"]
    assert d["exit_code"] == 0, d["stdout"][-3000:]
    assert d["objectives"] == ["val/acc (max)", "val/params_adapter (min)"]
    assert d["front"] and d["best_trial"] in d["front"]
    assert "early stopping acted on val/acc (max) only" in d["stdout"]
    assert {"pareto.csv", "pareto.png", "acc_vs_params.png"} <= _report_files(d)
    runs_by_trial = {r.data.tags["adaptune.trial_id"]: r for r in _trial_runs(d)}
    tags = {t: r.data.tags.get("adaptune.pareto_front") for t, r in runs_by_trial.items()}
    assert {t for t, v in tags.items() if v == "true"} == set(d["front"])
    assert set(tags.values()) <= {"true", "false"}
    best = runs_by_trial[d["best_trial"]]
    assert best.data.metrics["val/params_adapter"] <= 50000  # promote.pick's bound
    on_front_ok = [
        runs_by_trial[t].data.metrics["val/acc"]
        for t in d["front"]
        if runs_by_trial[t].data.metrics["val/params_adapter"] <= 50000
    ]
    assert best.data.metrics["val/acc"] == max(on_front_ok)
    assert d["promotion"]["promoted"] and d["promotion"]["trial_id"] == d["best_trial"]
    for t, r in runs_by_trial.items():  # conditional: init_noise only for a factorised rank
        if r.data.params["mode"] != "mad":
            assert r.data.params["rank"] == "0", t  # not sampled: the default
