"""A DAMA search that optimises its worst domain (adaptune/domains.py): the trials report
val/acc_worst_domain beside the per-domain accuracies it is the lowest of, the search
selects on it, and a bound on the domains' mean is a constraint like any metric."""

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
name: worst-domain
method: dama
data: {source: synthetic-multidomain, n_train: 192, val_fraction: 0.25, seed: 2}
fixed: {epochs: 1, batch_size: 16, max_len: 24, embedding_dim: 16, num_blocks: 2, stage: 1}
search:
  space: {gamma: {type: float, low: 0.0, high: 0.1}}
  num_samples: 2
  metric: val/acc_worst_domain
  mode: max
  constraints: ["val/acc_mean_domain >= 0.0"]
  scheduler: {type: fifo}
resources: {workers_per_trial: 1, cpus_per_worker: 0.5}
promote: {enabled: false}
"""


def test_a_search_selects_on_its_worst_domain(tmp_path: Path) -> None:
    job, out = write(tmp_path / "job.yaml", JOB), tmp_path / "s.json"
    try:
        argv = ["--state-dir", str(tmp_path / "state"), "search", str(job)]
        code = main([*argv, "--json", str(out)])
    finally:
        ray.shutdown()
    summary = json.loads(out.read_text())
    assert code == 0 and summary["metric"] == "val/acc_worst_domain", summary
    client = mlflow.MlflowClient(summary["tracking_uri"])
    parent = client.get_run(summary["parent_run_id"])
    runs = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(runs) == 2
    for run in runs:
        m = run.data.metrics
        per_domain = [v for k, v in m.items() if k.startswith("val/acc/")]
        assert len(per_domain) >= 2
        assert m["val/acc_worst_domain"] == pytest.approx(min(per_domain))
        assert m["val/acc_mean_domain"] == pytest.approx(sum(per_domain) / len(per_domain))
    worst = {r.data.tags["adaptune.trial_id"]: r.data.metrics["val/acc_worst_domain"] for r in runs}
    assert summary["best_value"] == max(worst.values()) == worst[summary["best_trial"]]
