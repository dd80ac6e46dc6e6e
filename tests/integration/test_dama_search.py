"""A real two-stage DAMA job through the CLI: local Ray, Tune + Optuna + ASHA, MLflow.

One job, two stages: stage 1 searches gamma on tiny multi-domain data; stage 2 starts
from stage 1's best model (handed over by its MLflow model URI) and searches the lambda
bound. Each stage is 3 trials of 2 epochs on a tiny xLSTM (half a CPU each, so a stage's
trials run at once); the job run gets the per-domain comparison.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import ray
import torch
from tests.conftest import write

from adaptune.cli import main
from adaptune.driver.stages import fetch_model_dir

pytestmark = pytest.mark.integration

JOB = """\
name: dama-t
method: dama
data: {source: synthetic-multidomain, n_train: 192, val_fraction: 0.25, seed: 2}
fixed: {epochs: 2, batch_size: 16, max_len: 24, embedding_dim: 16, num_blocks: 2}
stages:
  - name: s1
    fixed: {stage: 1}
    search: {space: space1.yaml, num_samples: 3, metric: val/acc, mode: max,
             scheduler: {type: asha, grace_period: 1, reduction_factor: 2}}
  - name: s2
    fixed: {stage: 2}
    search: {space: space2.yaml, num_samples: 3, metric: val/acc, mode: max,
             scheduler: {type: asha, grace_period: 1, reduction_factor: 2}}
resources: {workers_per_trial: 1, cpus_per_worker: 0.5}
promote: {model_name: dama-t}
"""
SPACE1 = "gamma: {type: float, low: 0.0, high: 0.1}\n"
SPACE2 = "bound: {type: float, low: 10.0, high: 1000.0, log: true}\n"


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("dama")
    write(root / "space1.yaml", SPACE1)
    write(root / "space2.yaml", SPACE2)
    job = write(root / "job.yaml", JOB)
    out = root / "s.json"
    try:
        code = main(["--state-dir", str(root / "state"), "search", str(job), "--json", str(out)])
    finally:
        ray.shutdown()
    s1, s2 = json.loads(out.read_text())
    s1["exit_code"] = s2["exit_code"] = code
    yield {"s1": s1, "s2": s2, "root": root}


def _trial_runs(summary: dict[str, Any]) -> list[Any]:
    client = mlflow.MlflowClient(summary["tracking_uri"])
    parent = client.get_run(summary["parent_run_id"])
    return list(
        client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
    )


@pytest.mark.parametrize("stage", ["s1", "s2"])
def test_each_stage_completes_with_one_nested_run_per_trial(
    stages: dict[str, Any], stage: str
) -> None:
    summary = stages[stage]
    assert summary["exit_code"] == 0 and summary["trials"] == 3 and not summary["errored"]
    assert summary["completed"] >= 1
    runs = _trial_runs(summary)
    assert len(runs) == 3
    # named by outcome then trial id ("stopped@1 ab12", "completed ab12", "★ best ab12")
    assert all(r.info.run_name.endswith(" " + r.data.tags["adaptune.trial_id"]) for r in runs)
    client = mlflow.MlflowClient(summary["tracking_uri"])
    history = client.get_metric_history(runs[0].info.run_id, "val/acc/dvd")
    assert history and all(0.0 <= m.value <= 1.0 for m in history)


def test_stage2_champion_is_stage1_base_with_lambda_and_predicts(stages: dict[str, Any]) -> None:
    uri = stages["s2"]["tracking_uri"]
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model("models:/dama-t@champion")
    frame = pd.DataFrame(
        {"text": ["a long dark plot", "long battery life"], "domain": ["dvd", None]}
    )
    out = model.predict(frame)
    assert len(out) == 2 and set(out["label"]) <= {0, 1} and out["domain"][0] == "dvd"
    # The hand-over: stage 2's saved base weights are exactly stage 1's champion's.
    client = mlflow.MlflowClient(uri)
    s1_best = client.get_run(stages["s1"]["best_run_id"]).data.tags["adaptune.model_uri"]
    base = fetch_model_dir(s1_best, stages["root"] / "s1")
    s2_dir = fetch_model_dir("models:/dama-t@champion", stages["root"] / "s2")
    before = torch.load(Path(base) / "weights.pt", weights_only=True)
    after = torch.load(Path(s2_dir) / "weights.pt", weights_only=True)
    base_keys = [k for k in before if k.startswith(("embed", "encoder", "domain_head"))]
    assert base_keys and all(torch.equal(before[k], after[k]) for k in base_keys)
    assert json.loads((Path(s2_dir) / "config.json").read_text())["stage"] == 2


def test_job_run_has_the_per_domain_report(stages: dict[str, Any]) -> None:
    client = mlflow.MlflowClient(stages["s1"]["tracking_uri"])
    job_run = client.get_run(
        client.get_run(stages["s1"]["parent_run_id"]).data.tags["mlflow.parentRunId"]
    )
    files = {a.path for a in client.list_artifacts(job_run.info.run_id, "report")}
    assert {"report/domains.csv", "report/domains.png"} <= files  # + the job's report page
    assert "adaptune.dama.degraded_domains" in job_run.data.tags
    assert "last_stage/val/acc" in job_run.data.metrics
