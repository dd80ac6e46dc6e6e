"""A comparison job end to end on the embedded data (tiny budget): two arms at equal
budget, each arm's best config re-trained with fresh seeds and scored on test, and the
job run's comparison report. Real Ray, real MLflow."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import ray
from tests.conftest import write

import adaptune as at
from adaptune.cli import main

pytestmark = pytest.mark.integration

JOB = """\
name: cmp
method: dao
data: {source: synthetic-finsent, n_train: 64, seed: 2}
fixed: {epochs: 1, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 4}
search:
  space: space.yaml
  sampler: random
  num_samples: 1
  metric: val/mse
  mode: min
  scheduler: {type: fifo}
  seed: 0
arms:
  - {name: constant, fixed: {weighting: constant, w_c: 0.25}}
  - {name: dao, fixed: {weighting: dao}}
final: {seeds: 2}
resources: {workers_per_trial: 1, cpus_per_worker: 1}
promote: {model_name: cmp-dao, rule: significant}
"""
SPACE = "lr: {type: float, low: 1.0e-4, high: 3.0e-4, log: true}\n"


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("compare")
    write(root / "space.yaml", SPACE)
    job = write(root / "job.yaml", JOB)
    out = root / "s.json"
    try:
        args = ["search", str(job), "--json", str(out), "--ledger", str(root / "results")]
        code = main(["--state-dir", str(root / "state"), *args])
    finally:
        ray.shutdown()
    yield {"code": code, "arms": json.loads(out.read_text()), "root": root}


def test_every_arm_gets_the_same_budget_and_seeded_reruns(comparison: dict[str, Any]) -> None:
    assert comparison["code"] == 0
    arms = comparison["arms"]
    assert [a["trials"] for a in arms] == [1, 1]  # re-runs are not search trials
    for arm in arms:
        assert [r["seed"] for r in arm["reruns"]] == [r["seed"] for r in arms[0]["reruns"]]
        assert len(arm["reruns"]) == 2
        agg = arm["final"]["test/mse"]
        assert agg["n"] == 2 and agg["ci95"] > 0 and agg["std"] > 0
        assert "test/mse" in arm["test"]


def test_reruns_are_tagged_nested_runs_and_the_job_run_holds_the_comparison(
    comparison: dict[str, Any],
) -> None:
    arm = comparison["arms"][0]
    client = mlflow.MlflowClient(arm["tracking_uri"])
    search_run = client.get_run(arm["parent_run_id"])
    children = client.search_runs(
        [search_run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{arm['parent_run_id']}'",
    )
    kinds = sorted(r.data.tags["adaptune.kind"] for r in children)
    assert kinds == ["rerun", "rerun", "trial"]
    for run in children:
        if run.data.tags["adaptune.kind"] == "rerun":
            assert "test/mse" in run.data.metrics and "adaptune.model_uri" not in run.data.tags
    metrics = search_run.data.metrics
    assert {"test/mse", "test/mse_mean", "test/mse_std", "test/mse_ci95"} <= set(metrics)
    files = {a.path for a in client.list_artifacts(arm["parent_run_id"], "report")}
    assert "report/reruns.csv" in files
    job_run = client.get_run(search_run.data.tags["mlflow.parentRunId"])
    assert job_run.data.tags["adaptune.kind"] == "job"
    files = {a.path for a in client.list_artifacts(job_run.info.run_id, "report")}
    assert {"report/comparison.csv", "report/comparison.md", "report/comparison.png"} <= files
    folder = Path(client.download_artifacts(job_run.info.run_id, "report", str(comparison["root"])))
    rows = list(csv.DictReader((folder / "comparison.csv").read_text().splitlines()))
    assert [r["arm"] for r in rows] == ["constant", "dao"]
    text = (folder / "comparison.md").read_text()
    assert "constant vs dao:" in text and "p =" in text


def test_the_results_record_holds_the_raw_rows_the_table_is_made_from(
    comparison: dict[str, Any],
) -> None:
    from adaptune.report.comparison import comparison_rows, markdown

    record = json.loads((comparison["root"] / "results" / "cmp.json").read_text())
    assert record["job"] == "cmp" and record["command"].startswith("adaptune search ")
    assert record["metrics"][0] == "test/mse" and record["objective"]["metric"] == "val/mse"
    assert [a["name"] for a in record["arms"]] == ["constant", "dao"]
    for arm, summary in zip(record["arms"], comparison["arms"], strict=True):
        assert arm["search"] == summary["search"] and arm["config"]["weighting"] in (
            "constant",
            "dao",
        )
        assert [r["seed"] for r in arm["seeds"]] == [r["seed"] for r in summary["reruns"]]
        assert all("test/mse" in r and "val/mse" in r for r in arm["seeds"])
        assert arm["data_fingerprint"]
    made = record["provenance"]
    assert made["machine"]["cpus"] and {"torch", "ray", "mlflow"} <= set(made["packages"])
    assert "synthetic" in record["data_note"]
    # the job run's comparison.md is the record's table: the same numbers, one source
    client = mlflow.MlflowClient(comparison["arms"][0]["tracking_uri"])
    search_run = client.get_run(comparison["arms"][0]["parent_run_id"])
    job_id = search_run.data.tags["mlflow.parentRunId"]
    logged = Path(client.download_artifacts(job_id, "results/cmp.json", str(comparison["root"])))
    assert json.loads(logged.read_text()) == record
    shown = Path(client.download_artifacts(job_id, "report/comparison.md", str(comparison["root"])))
    assert shown.read_text() == "\n".join(markdown(record, *comparison_rows(record))) + "\n"
    # and the Python API's frame is the record's rows, with its verdicts
    frame = at.load(job_id, tracking_uri=comparison["arms"][0]["tracking_uri"]).comparison_df()
    rows, verdicts = comparison_rows(record)
    assert frame.equals(pd.DataFrame(rows)) and frame.attrs["verdicts"] == verdicts


def test_an_arm_records_its_job_and_is_not_resumed_alone(
    comparison: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from adaptune.driver import resume

    state, name = comparison["root"] / "state", comparison["arms"][0]["search"]
    record = resume.load(state, name)
    assert record.job == str((comparison["root"] / "job.yaml").resolve())
    assert record.arm == "constant"
    resume.update(state, name, finished=False)  # as if its driver had died
    capsys.readouterr()
    assert main(["--state-dir", str(state), "resume", name]) == 2
    err = capsys.readouterr().err
    assert "arm 'constant' of the comparison" in err and "adaptune search" in err
