"""A two-stage job: stage 2 starts from stage 1's best model and winning config."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
import ray
from tests.conftest import write

from adaptune.cli import main

pytestmark = pytest.mark.integration

JOB = """\
name: staged
method: dao
data: {source: synthetic-finsent, n_train: 64, seed: 2}
fixed: {epochs: 2, max_len: 16, batch_size: 8, warmup_steps: 1, lora_rank: 4}
stages:
  - name: base
    fixed: {weighting: constant}
    search: {space: base.yaml, num_samples: 2, scheduler: {type: fifo}}
  - name: weighting
    fixed: {weighting: dao}
    search: {space: weighting.yaml, num_samples: 2, scheduler: {type: fifo}}
promote: {model_name: staged-dao}
"""


def test_stage_two_starts_from_stage_one(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "lr: {type: float, low: 1.0e-4, high: 1.0e-3, log: true}\n")
    write(tmp_path / "weighting.yaml", "dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2}\n")
    job = write(tmp_path / "job.yaml", JOB)
    out = tmp_path / "s.json"
    try:
        code = main(["--state-dir", str(tmp_path / "st"), "search", str(job), "--json", str(out)])
    finally:
        ray.shutdown()
    assert code == 0
    first, second = json.loads(out.read_text())
    assert first["completed"] == 2 and second["completed"] == 2
    assert first["promotion"] is None and second["promotion"]["promoted"]

    client = mlflow.MlflowClient(first["tracking_uri"])
    stage_runs = [client.get_run(s["parent_run_id"]) for s in (first, second)]
    job_run = {r.data.tags["mlflow.parentRunId"] for r in stage_runs}
    assert len(job_run) == 1  # both stage runs nest under one job run
    assert client.get_run(job_run.pop()).data.tags["adaptune.kind"] == "job"

    trials = client.search_runs(
        [stage_runs[1].info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{stage_runs[1].info.run_id}'",
    )
    best_lr = first["best_params"]["lr"]
    for run in trials:  # the winning config is inherited, the best model is the start
        assert float(run.data.params["lr"]) == pytest.approx(best_lr)
        assert run.data.params["weighting"] == "dao"
        assert (Path(run.data.params["init_from"]) / "heads.pt").exists()
