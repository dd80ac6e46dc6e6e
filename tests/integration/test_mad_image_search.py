"""MAD searched end to end from images on disk, in the two layouts of tests/fixtures/mad:
an ImageFolder tree (base pretrained on its source domain) and the Visual Decathlon's
release (COCO-style annotations; base from a ResNet-26 checkpoint file). Two trials each
on 8x8 images, a width-4 base; the champion loads back and names the class it predicts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import ray
import torch
from tests.conftest import ROOT, write

from adaptune.cli import main
from adaptune.methods.mad.model import ResNet26

pytestmark = pytest.mark.integration

FIXTURES = ROOT / "tests" / "fixtures" / "mad"
JOB = """\
name: {name}
method: mad
data:
  source: {source}
  path: {path}
  test_split: {test}
  val_fraction: 0.25
  seed: 0
  options: {options}
fixed: {fixed}
search:
  space:
    lr: {{type: float, low: 1.0e-2, high: 2.0e-1, log: true}}
    rank: {{type: categorical, choices: [2, 0]}}
  sampler: random
  num_samples: 2
  metric: val/acc
  mode: max
  scheduler: {{type: fifo}}
  seed: 0
resources: {{workers_per_trial: 1, cpus_per_worker: 1}}
promote: {{model_name: {name}}}
"""
CASES = {
    "folder": {
        "source": "image-folder",
        "path": FIXTURES / "image-folder",
        "test": "test",
        "options": "{size: 8, source_domain: photo}",
        "fixed": "{width: 4, epochs: 2, batch_size: 4, pretrain_epochs: 1}",
    },
    "decathlon": {
        "source": "decathlon",
        "path": FIXTURES / "decathlon",
        "test": "val",
        "options": "{size: 8, source_domain: imagenet12, num_workers: 1}",
        "fixed": "{width: 4, epochs: 2, batch_size: 4, checkpoint: base.pt}",
    },
}


@pytest.fixture(scope="module", params=list(CASES))
def search(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    case = request.param
    root = tmp_path_factory.mktemp(f"mad-{case}")
    base = ResNet26(4, 3)  # imagenet12's 3 classes: its head is the base's classifier
    torch.save(base.state_dict(), root / "base.pt")
    job = write(root / "job.yaml", JOB.format(name=f"mad-{case}", **CASES[case]))
    code = main(
        ["--state-dir", str(root / "state"), "search", str(job), "--json", str(root / "s.json")]
    )
    summary = json.loads((root / "s.json").read_text())
    summary.update(exit_code=code, case=case, base=base.state_dict(), root=root)
    yield summary
    ray.shutdown()


def test_two_trials_complete_with_every_domain_scored(search: dict[str, Any]) -> None:
    assert search["exit_code"] == 0
    assert search["trials"] == 2 and not search["errored"] and search["completed"] == 2
    client = mlflow.MlflowClient(search["tracking_uri"])
    parent = client.get_run(search["parent_run_id"])
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    domains = ("photo", "sketch") if search["case"] == "folder" else ("aircraft", "imagenet12")
    for run in runs:
        assert all(f"val/acc/{d}" in run.data.metrics for d in domains)


def test_champion_predicts_a_named_class_of_its_domain(search: dict[str, Any]) -> None:
    assert search["promotion"]["promoted"]
    mlflow.set_tracking_uri(search["tracking_uri"])
    mlflow.set_registry_uri(search["tracking_uri"])
    model = mlflow.pyfunc.load_model(f"models:/mad-{search['case']}@champion")
    domain, labels = (
        ("sketch", {"hbar", "vbar"})
        if search["case"] == "folder"
        else ("aircraft", {"aircraft-0", "aircraft-1"})
    )
    image = np.random.default_rng(0).random((8, 8, 3))
    out = model.predict(pd.DataFrame({"image": [image], "domain": [domain]}))
    assert out["label"].iloc[0] in labels and 0 <= out["prob"].iloc[0] <= 1


def test_the_checkpoint_is_the_frozen_base(search: dict[str, Any]) -> None:
    if search["case"] != "decathlon":
        pytest.skip("the image-folder search pretrains its base")
    mlflow.set_tracking_uri(search["tracking_uri"])
    local = mlflow.artifacts.download_artifacts(
        f"models:/mad-{search['case']}@champion", dst_path=str(search["root"] / "champion")
    )
    (state_file,) = Path(local).rglob("model.pt")
    state = torch.load(state_file, weights_only=True)
    # the source domain's (imagenet12, index 1) first conv is the checkpoint's, untouched
    conv = state["base.conv1.conv.weight"]
    assert torch.equal(conv, search["base"]["conv1.weight"])
