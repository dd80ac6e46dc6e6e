"""A real DALLMi search through the CLI: Ray Tune + Optuna + ASHA, Ray Train, MLflow.

Two trials (one wave on 2 CPUs) on tiny synthetic-multilabel data (one source epoch,
one target epoch), the phased label-balanced loader running inside Ray Train, then the
champion served through MLflow's pyfunc from the registry. Two, not 3-4: on the shared,
heavily loaded 2-core machine a second wave of trials waited >10 min for its Ray Train
worker group (the MAD search showed the same), see the DALLMi report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import mlflow
import pytest
import ray
from tests.conftest import write

from adaptune.cli import main

pytestmark = pytest.mark.integration

JOB = """\
name: tiny-dallmi
method: dallmi
data: {source: synthetic-multilabel, n_train: 64, val_fraction: 0.25, seed: 1,
       options: {n_labels: 4}}
fixed: {revealed: 0.3, epochs: 2, source_epochs: 1, max_len: 16, batch_size: 8,
        pos_batch_size: 2}
search:
  space: space.yaml
  sampler: tpe
  num_samples: 2
  metric: val/map
  mode: max
  scheduler: {type: asha, grace_period: 1, reduction_factor: 2}
  seed: 0
resources: {workers_per_trial: 1, cpus_per_worker: 1}
promote: {model_name: tiny-dallmi}
"""
SPACE = """\
lr: {type: float, low: 2.0e-5, high: 1.0e-4, log: true}
loss_form: {type: categorical, choices: [norm, log]}
lora_rank: {type: categorical, choices: [0, 4]}
"""


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("dallmi")
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
    assert search["trials"] == 2 and not search["errored"]
    assert search["completed"] >= 1


def test_one_nested_mlflow_run_per_trial_with_target_map_and_per_label_ap(
    search: dict[str, Any],
) -> None:
    client = mlflow.MlflowClient(search["tracking_uri"])
    parent = client.get_run(search["parent_run_id"])
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(runs) == 2
    # named by outcome then trial id ("stopped@1 ab12", "completed ab12", "★ best ab12")
    assert all(r.info.run_name.endswith(" " + r.data.tags["adaptune.trial_id"]) for r in runs)
    labels = {f"val/ap/{n}" for n in ("genetics", "oncology", "cardiology", "neurology")}
    for run in runs:
        assert 0.0 <= run.data.metrics["val/map"] <= 1.0
        assert run.data.params["mode"] == "dallmi" and run.data.params["revealed"] == "0.3"
        ap = {k: v for k, v in run.data.metrics.items() if k.startswith("val/ap/")}
        assert ap and set(ap) <= labels and all(0.0 <= v <= 1.0 for v in ap.values())
    # mode and revealed were not varied: no comparison table (jobs/dallmi_compare.yaml's)
    files = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert not {f for f in files if f.startswith("report/comparison.")}
    # The last epoch of a completed trial ran the target phase (step 2).
    done = [r for r in runs if r.data.tags["adaptune.status"] == "completed"]
    assert done and all(r.data.metrics["train/target_phase"] == 1.0 for r in done)


def test_champion_loads_from_the_registry_and_predicts(search: dict[str, Any]) -> None:
    assert search["promotion"]["promoted"]
    mlflow.set_tracking_uri(search["tracking_uri"])
    mlflow.set_registry_uri(search["tracking_uri"])
    model = mlflow.pyfunc.load_model("models:/tiny-dallmi@champion")
    out = model.predict({"text": ["new gene sequencing thread, folks", "a tumor biopsy"]})
    assert len(out) == 2 and "labels" in out.columns
    probs = out.drop(columns="labels")
    assert list(probs.columns) == ["p_genetics", "p_oncology", "p_cardiology", "p_neurology"]
    assert ((probs >= 0) & (probs <= 1)).all().all()
