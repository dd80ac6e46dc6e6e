"""A search ended by a stop rule, then one ended by its wall budget, on real Ray and MLflow.

Each ends early, not interrupted: no new trial starts, the running ones stop and their
runs say by which rule (status stopped, the run FINISHED), and the search goes on as
usual: the best finished trial is chosen and promoted, and the summary names the rule.
The wall budget is set from how long the first search took to finish a trial, so it
lands mid-search on a slow machine too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import mlflow
import pytest
import ray
from tests.conftest import write

from adaptune.cli import main

pytestmark = pytest.mark.integration

JOB = """\
name: {name}
method: dao
data: {{source: synthetic-finsent, n_train: 64, seed: 2}}
fixed: {{epochs: 2, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 4}}
search:
  space: space.yaml
  sampler: tpe
  num_samples: {samples}
  max_concurrent: 2
  scheduler: {{type: fifo}}
  seed: 0
  {rule}
resources: {{workers_per_trial: 1, cpus_per_worker: 1}}
"""
SPACE = "lr: {type: float, low: 1.0e-5, high: 3.0e-3, log: true}\n"


def _search(tmp_path: Path, name: str, samples: int, rule: str) -> dict[str, Any]:
    job = write(tmp_path / f"{name}.yaml", JOB.format(name=name, samples=samples, rule=rule))
    out = tmp_path / f"{name}.json"
    state = tmp_path / "state"  # one local SQLite store for both
    code = main(["--state-dir", str(state), "search", str(job), "--json", str(out)])
    summary: dict[str, Any] = json.loads(out.read_text())
    assert code == 0, summary
    return summary


def _check(summary: dict[str, Any], key: str, samples: int) -> list[Any]:
    """The search ended by `key`, decided and promoted; returns its trial runs."""
    assert summary["ended_by"].startswith(key), summary["ended_by"]
    assert summary["trials"] < samples
    assert summary["completed"] >= 1 and summary["best_trial"], summary
    assert not summary["errored"]
    promotion = summary["promotion"]
    assert promotion["promoted"] and promotion["trial_id"] == summary["best_trial"], promotion
    client = mlflow.MlflowClient(summary["tracking_uri"])
    parent = client.get_run(summary["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["adaptune.ended_by"] == key
    version = client.get_model_version_by_alias(promotion["model_name"], "champion")
    assert str(version.version) == str(promotion["version"])
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(runs) == summary["trials"]
    for r in runs:  # ended normally: none failed, none interrupted
        tags = r.data.tags
        assert r.info.status == "FINISHED", (r.info.run_name, r.info.status)
        assert tags["adaptune.status"] in ("completed", "stopped"), tags
        if tags["adaptune.status"] == "stopped":  # fifo stops nothing: the rule did
            assert tags["adaptune.ended_by"] == key, tags
            assert tags["adaptune.status_text"].startswith(f"stopped by {key}"), tags
            assert r.info.run_name.startswith("stopped@")
    stopped = [r for r in runs if r.data.tags["adaptune.status"] == "stopped"]
    assert sorted(summary["stopped"]) == sorted(r.data.tags["adaptune.trial_id"] for r in stopped)
    return stopped


def test_stop_rule_then_wall_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "space.yaml", SPACE)
    try:
        # every val/mse is under 100: the first trial to complete meets the target
        goal = _search(tmp_path, "goal", 12, "stop_when: {objective: 100}")
        _check(goal, "stop_when.objective", 12)
        assert goal["completed"] <= 2  # at most the one beside it finished too

        # as long again as the first search took to finish a trial, and then some: a
        # trial completes, and 40 cannot
        wall = math.ceil(1.5 * goal["wall_s"]) + 10
        rule = f"budget: {{wall: {wall}s, usd: 1000}}"
        spent = _search(tmp_path, "spent", 40, rule)
        stopped = _check(spent, "budget.wall", 40)
        assert stopped, "the wall budget stopped no running trial"
        assert spent["ended_by"].startswith("budget.wall (")
    finally:
        ray.shutdown()
    out = capsys.readouterr().out
    assert "ended by budget.wall" in out
    assert "spent $" in out and " of $1000" in out  # the progress line's spend
