"""What a search needs to be resumed after its driver died, and the MLflow side of it.

    record(state_dir, search, {...})        # at search start: job, overrides, run ids
    info = load(state_dir, "quickstart-20261126-071500")
    known = trial_run_ids(client, info)     # trial id -> its MLflow run, reused on resume

Tune keeps the experiment (trials, searcher state) under the storage path; this record
ties it to the job that made it and to the MLflow runs already written, so `adaptune
resume` continues the same Tune experiment under the same parent run: no trial lost,
no trial logged twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STATUS_TAG = "adaptune.status"


def record_path(state_dir: Path, search: str) -> Path:
    return state_dir / "searches" / f"{search}.json"


def record(state_dir: Path, search: str, info: dict[str, Any]) -> None:
    path = record_path(state_dir, search)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"search": search, **info}, indent=2))
    tmp.replace(path)  # atomic: a crash never leaves half a record


def update(state_dir: Path, search: str, **changes: Any) -> None:
    path = record_path(state_dir, search)
    if path.exists():
        record(state_dir, search, {**json.loads(path.read_text()), **changes})


def load(state_dir: Path, name: str) -> dict[str, Any]:
    """The record of search (or multi-stage job) `name`; LookupError names what exists."""
    path = record_path(state_dir, name)
    if not path.exists():
        known = sorted(p.stem for p in (state_dir / "searches").glob("*.json"))
        listed = ", ".join(known[-8:]) if known else "none"
        raise LookupError(
            f"no search '{name}' to resume in {state_dir / 'searches'} (known: {listed})"
        )
    info: dict[str, Any] = json.loads(path.read_text())
    return info


def trial_run_ids(client: Any, info: dict[str, Any]) -> dict[str, str]:
    """Trial id -> MLflow run id for the trial runs already under the search's parent run."""
    runs = client.search_runs(
        [info["experiment_id"]],
        filter_string=f"tags.mlflow.parentRunId = '{info['parent_run_id']}'",
        max_results=10000,
    )
    out: dict[str, str] = {}
    for run in runs:
        trial = run.data.tags.get("adaptune.trial_id")
        if trial and run.data.tags.get(STATUS_TAG) != "lost":
            out[trial] = run.info.run_id
    return out


def settle_runs(client: Any, known: dict[str, str], tune_trials: set[str]) -> list[str]:
    """Before resuming: runs still marked running are marked interrupted (the trial
    restarts and reopens its run); runs of trials Tune never saved (started after its
    last state save) are marked lost and closed, and dropped from `known`. Returns them."""
    lost = []
    for trial, run_id in list(known.items()):
        run = client.get_run(run_id)
        if trial not in tune_trials:
            client.set_tag(run_id, STATUS_TAG, "lost")
            client.set_tag(
                run_id,
                "adaptune.error",
                "the search driver died before Tune saved this trial; the search "
                "resumed without it (its configuration may be sampled again)",
            )
            if run.info.status == "RUNNING":
                client.set_terminated(run_id, "KILLED")
            lost.append(trial)
            del known[trial]
        elif run.info.status == "RUNNING":
            client.set_tag(run_id, STATUS_TAG, "interrupted")
            client.set_terminated(run_id, "KILLED")
    return lost
