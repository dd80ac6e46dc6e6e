"""A real MAD search end to end: CLI -> Ray Tune + Optuna + ASHA -> Ray Train -> MLflow.

Four trials on a tiny digits-decathlon (60 digits x 6 domains, width-4 ResNet-26),
two epochs each; the champion is loaded back from the registry and predicts images.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import mlflow
import pandas as pd
import pytest
import ray
from tests.conftest import write

from adaptune.cli import main
from adaptune.methods.mad.data import load_digits_images

pytestmark = pytest.mark.integration

JOB = """\
name: tiny-mad
method: mad
data: {source: digits-decathlon, n_train: 60, val_fraction: 0.25, seed: 0, options: {size: 16}}
fixed: {width: 4, epochs: 2, batch_size: 16, pretrain_epochs: 1}
search:
  space: space.yaml
  sampler: tpe
  num_samples: 4
  metric: val/acc
  mode: max
  scheduler: {type: asha, grace_period: 1, reduction_factor: 2}
  seed: 0
resources: {workers_per_trial: 1, cpus_per_worker: 1}
promote: {model_name: tiny-mad}
"""
SPACE = """\
rank: {type: categorical, choices: [2, 4, 0]}
lr: {type: float, low: 1.0e-2, high: 2.0e-1, log: true}
"""


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("mad")
    write(root / "space.yaml", SPACE)
    job = write(root / "job.yaml", JOB)
    code = main(
        ["--state-dir", str(root / "state"), "search", str(job), "--json", str(root / "s.json")]
    )
    summary = json.loads((root / "s.json").read_text())
    summary["exit_code"] = code
    yield summary
    ray.shutdown()


def test_search_completes_with_a_completed_trial(search: dict[str, Any]) -> None:
    assert search["exit_code"] == 0
    assert search["trials"] == 4 and not search["errored"]
    assert search["completed"] >= 1


def test_one_nested_mlflow_run_per_trial_with_mad_metrics(search: dict[str, Any]) -> None:
    client = mlflow.MlflowClient(search["tracking_uri"])
    parent = client.get_run(search["parent_run_id"])
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(runs) == 4
    # named by outcome then trial id ("stopped@1 ab12", "completed ab12", "★ best ab12")
    assert all(r.info.run_name.endswith(" " + r.data.tags["adaptune.trial_id"]) for r in runs)
    for run in runs:
        assert "rank" in run.data.params
        assert "val/acc/rotated" in run.data.metrics and run.data.metrics["val/params_domain"] > 0


def test_champion_loads_from_the_registry_and_predicts_images(search: dict[str, Any]) -> None:
    assert search["promotion"]["promoted"]
    mlflow.set_tracking_uri(search["tracking_uri"])
    mlflow.set_registry_uri(search["tracking_uri"])
    model = mlflow.pyfunc.load_model("models:/tiny-mad@champion")
    x, _ = load_digits_images(size=16, n=3)  # the original domain
    frame = pd.DataFrame({"image": [img.numpy() for img in x], "domain": ["original"] * 3})
    out = model.predict(frame)
    assert len(out) == 3 and set(out["domain"]) == {"original"}
    assert out["class"].between(0, 9).all() and out["prob"].between(0, 1).all()


def test_search_run_has_the_accuracy_vs_parameters_plot(search: dict[str, Any]) -> None:
    client = mlflow.MlflowClient(search["tracking_uri"])
    files = {a.path for a in client.list_artifacts(search["parent_run_id"], "report")}
    assert {"report/acc_vs_params.png", "report/acc_vs_params.csv"} <= files  # + the search report
