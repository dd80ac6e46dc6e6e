"""A trial whose loss goes non-finite fails alone; the search goes on and says so."""

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
name: nan
method: dao
data: {source: synthetic-finsent, n_train: 64, seed: 4}
fixed: {epochs: 2, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 4}
search: {space: space.yaml, sampler: grid, scheduler: {type: fifo}}
promote: {model_name: nan-dao}
"""
# LoRA's scale lora_alpha / rank of 1e300 is inf in float32: the loss turns inf/NaN. (An
# absurd lr, 1e4, did it before validate refused learning rates over 10.)
SPACE = "lora_alpha: {type: categorical, choices: [8.0, 1.0e+300]}\n"


def test_nan_trial_fails_alone(tmp_path: Path) -> None:
    write(tmp_path / "space.yaml", SPACE)
    job = write(tmp_path / "job.yaml", JOB)
    out = tmp_path / "s.json"
    try:
        code = main(["--state-dir", str(tmp_path / "st"), "search", str(job), "--json", str(out)])
    finally:
        ray.shutdown()
    summary = json.loads(out.read_text())
    assert code == 0 and summary["trials"] == 2
    assert summary["completed"] == 1 and len(summary["errored"]) == 1
    assert summary["best_params"]["lora_alpha"] == pytest.approx(8.0)
    client = mlflow.MlflowClient(summary["tracking_uri"])
    bad = client.search_runs(
        [client.get_run(summary["parent_run_id"]).info.experiment_id],
        filter_string="tags.`adaptune.status` = 'errored'",
    )
    assert len(bad) == 1 and "non-finite loss" in bad[0].data.tags["adaptune.error"]
    assert bad[0].info.status == "FAILED"
