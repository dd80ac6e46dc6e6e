"""A real two-stage DAMA search through the CLI: local Ray, Tune + Optuna + ASHA, MLflow.

Stage 1 searches gamma on tiny multi-domain data; stage 2 starts from stage 1's
champion (fetched from the MLflow registry) and searches the lambda bound. Each stage
is 3 trials of 2 epochs on a tiny xLSTM; the whole module takes a few minutes on 2 CPUs.
Half a CPU per trial lets all 3 trials of a stage run at once, so no trial waits for a
finished one's placement group (whose release fails while a second Ray instance runs
on the same machine, as on a shared test box).
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
from adaptune.methods.dama.predict import fetch_model_dir

pytestmark = pytest.mark.integration

JOB = """\
name: {name}
method: dama
data: {{source: synthetic-multidomain, n_train: 192, val_fraction: 0.25, seed: 2}}
fixed: {fixed}
search:
  space: {space}
  sampler: tpe
  num_samples: 3
  metric: val/acc
  mode: max
  scheduler: {{type: asha, grace_period: 1, reduction_factor: 2}}
  seed: 0
resources: {{workers_per_trial: 1, cpus_per_worker: 0.5}}
promote: {{model_name: {name}}}
"""
SMALL = "epochs: 2, batch_size: 16, max_len: 24, embedding_dim: 16, num_blocks: 2"
SPACE1 = "gamma: {type: float, low: 0.0, high: 0.1}\n"
SPACE2 = "bound: {type: float, low: 10.0, high: 1000.0, log: true}\n"


def _search(root: Path, state: Path, name: str, fixed: str, space: str) -> dict[str, Any]:
    write(root / f"{name}_space.yaml", space)
    job = write(
        root / f"{name}.yaml", JOB.format(name=name, fixed=fixed, space=f"{name}_space.yaml")
    )
    out = root / f"{name}.json"
    code = main(["--state-dir", str(state), "search", str(job), "--json", str(out)])
    summary = json.loads(out.read_text())
    summary["exit_code"] = code
    return summary


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("dama")
    state = root / "state"
    s1 = _search(root, state, "dama-s1", "{stage: 1, " + SMALL + "}", SPACE1)
    base = fetch_model_dir("models:/dama-s1@champion", str(root / "base"), s1["tracking_uri"])
    ray.shutdown()  # stage 2 on a fresh local cluster: nothing of stage 1 holds its CPUs
    s2 = _search(
        root, state, "dama-s2", "{stage: 2, init_from: '" + base + "', " + SMALL + "}", SPACE2
    )
    yield {"s1": s1, "s2": s2, "base": base, "root": root}
    ray.shutdown()


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
    assert {r.info.run_name for r in runs} == {r.data.tags["adaptune.trial_id"] for r in runs}
    client = mlflow.MlflowClient(summary["tracking_uri"])
    history = client.get_metric_history(runs[0].info.run_id, "val/acc/dvd")
    assert history and all(0.0 <= m.value <= 1.0 for m in history)


def test_stage2_champion_is_stage1_base_with_lambda_and_predicts(stages: dict[str, Any]) -> None:
    uri = stages["s2"]["tracking_uri"]
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model("models:/dama-s2@champion")
    frame = pd.DataFrame(
        {"text": ["a long dark plot", "long battery life"], "domain": ["dvd", None]}
    )
    out = model.predict(frame)
    assert len(out) == 2 and set(out["label"]) <= {0, 1} and out["domain"][0] == "dvd"
    # The hand-over: stage 2's saved base weights are exactly stage 1's champion's.
    s2_dir = fetch_model_dir("models:/dama-s2@champion", str(stages["root"] / "s2"), uri)
    before = torch.load(Path(stages["base"]) / "weights.pt", weights_only=True)
    after = torch.load(Path(s2_dir) / "weights.pt", weights_only=True)
    base_keys = [k for k in before if k.startswith(("embed", "encoder", "domain_head"))]
    assert base_keys and all(torch.equal(before[k], after[k]) for k in base_keys)
    assert json.loads((Path(s2_dir) / "config.json").read_text())["stage"] == 2
