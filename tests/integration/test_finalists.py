"""Seed-robust selection end to end (search.finalists): the two best trials by val are
each trained with one more seed, the best mean val wins, and the search records every
finalist's mean, interval and probability of being the best."""

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
name: finals
method: dao
data: {source: synthetic-finsent, n_train: 64, seed: 2}
fixed: {epochs: 1, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 4}
search:
  space: {lr: {type: float, low: 1.0e-5, high: 3.0e-3, log: true}}
  sampler: random
  num_samples: 3
  max_concurrent: 2
  finalists: {top_k: 2, seeds: 1}
  scheduler: {type: fifo}
  seed: 0
resources: {workers_per_trial: 1, cpus_per_worker: 1}
promote: {enabled: false}
"""


def test_the_best_mean_over_seeds_wins_and_every_finalist_is_recorded(tmp_path: Path) -> None:
    job, out = write(tmp_path / "job.yaml", JOB), tmp_path / "s.json"
    try:
        code = main(
            ["--state-dir", str(tmp_path / "state"), "search", str(job), "--json", str(out)]
        )
    finally:
        ray.shutdown()
    summary = json.loads(out.read_text())
    assert code == 0 and summary["trials"] == 3, summary  # finalists are not search trials
    finals = summary["finalists"]
    assert len(finals) == 2 and all(f["n"] == 2 and len(f["values"]) == 2 for f in finals)
    assert sum(f["p_best"] for f in finals) == pytest.approx(1.0)
    assert summary["best_trial"] == min(finals, key=lambda f: f["mean"])["trial"]  # val/mse
    client = mlflow.MlflowClient(summary["tracking_uri"])
    parent = client.get_run(summary["parent_run_id"])
    assert json.loads(parent.data.tags["adaptune.finalists"]) == finals
    runs = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    kinds = sorted(r.data.tags.get("adaptune.kind", "") for r in runs)
    assert kinds == ["finalist", "finalist", "trial", "trial", "trial"], kinds
