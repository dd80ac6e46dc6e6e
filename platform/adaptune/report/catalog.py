"""Past searches and jobs as the MLflow store holds them: `adaptune list` and `show`.

    rows = list_runs(client, limit=50)      # newest first: name, kind, status, best, champion
    info = describe(client, "quickstart-20261124-101500-3f2a", state_dir)

Everything comes from MLflow (run tags, metrics, the registry), so searches that ran on a
cluster or were resumed read the same.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from adaptune.method import TEST_PREFIX
from adaptune.report.links import RunLinks
from adaptune.tracking.names import Kind, SearchMetric, Tag

__all__ = ["describe", "list_runs"]


def _when(ms: int | None) -> str:
    return dt.datetime.fromtimestamp((ms or 0) / 1000).strftime("%Y-%m-%d %H:%M") if ms else ""


def _champions(client: MlflowClient, runs: list[Any]) -> dict[str, str]:
    """Search name -> "model vN @alias" (or "model vN") for the versions each registered."""
    out: dict[str, str] = {}
    for name in sorted({r.data.tags.get(Tag.MODEL_NAME, "") for r in runs} - {""}):
        try:
            versions = client.search_model_versions(f"name = '{name}'")
        except MlflowException:
            continue
        try:  # search results carry no aliases: the registered model has them
            held = dict(client.get_registered_model(name).aliases or {})
        except MlflowException:
            held = {}
        for mv in sorted(versions, key=lambda v: int(v.version)):
            search = (mv.tags or {}).get(Tag.SEARCH)
            if search:
                aliases = " ".join(f"@{a}" for a, v in held.items() if str(v) == str(mv.version))
                out[search] = f"{name} v{mv.version}" + (f" {aliases}" if aliases else "")
    return out


def _row(run: Any, champions: dict[str, str]) -> dict[str, Any]:
    tags, metrics = run.data.tags, run.data.metrics
    kind = tags.get(Tag.KIND, "")
    name = tags.get(Tag.SEARCH) or run.info.run_name
    metric = tags.get(Tag.METRIC, "")
    best = metrics.get(SearchMetric.best(metric)) if metric else None
    return {
        "name": name,
        "kind": "stage" if kind == Kind.SEARCH and tags.get("mlflow.parentRunId") else kind,
        "status": run.info.status.lower(),
        "started": _when(run.info.start_time),
        "method": tags.get(Tag.METHOD, ""),
        "trials": int(metrics[SearchMetric.TRIALS]) if SearchMetric.TRIALS in metrics else None,
        "objective": f"{metric} ({tags.get(Tag.MODE, '')})" if metric else "",
        "metric": metric,
        "best": best,
        "champion": champions.get(name, ""),
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
    }


def list_runs(client: MlflowClient, limit: int = 50) -> list[dict[str, Any]]:
    """Searches and multi-stage jobs, newest first."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs: list[Any] = []
    for kind in (Kind.SEARCH, Kind.JOB):
        runs += client.search_runs(
            experiments,
            filter_string=f"tags.`{Tag.KIND}` = '{kind}'",
            order_by=["attributes.start_time DESC"],
            max_results=limit,
        )
    runs = sorted(runs, key=lambda r: r.info.start_time or 0, reverse=True)[:limit]
    champions = _champions(client, runs)
    return [_row(r, champions) for r in runs]


def describe(client: MlflowClient, name: str, state_dir: Path) -> dict[str, Any]:
    """One search (or job): its row, settings, trials and where to look next. Raises
    LookupError for an unknown name."""
    from adaptune.report.data import load_search
    from adaptune.report.tables import summary_rows
    from adaptune.tracking import find_run

    run = find_run(client, name)
    info = _row(run, _champions(client, [run]))
    links = RunLinks.of(client.tracking_uri, str(run.info.experiment_id))
    report = state_dir / "reports" / f"{info['name']}.html"
    job = run.data.tags.get(Tag.KIND) == Kind.JOB
    info.update(
        ui=links.run(run.info.run_id) if job else links.search(info["name"]),
        report=str(report) if report.exists() else None,
        best_trial=run.data.tags.get(Tag.BEST_TRIAL),
        note=run.data.tags.get(Tag.NOTE, ""),
    )
    if job:
        return info
    search = load_search(client, run)
    info["metric"], info["searched"] = search.metric, list(search.space)
    info["settings"] = {  # unset ones (None, [], {}) left out
        k: v
        for k, v in sorted(run.data.params.items())
        if k.startswith(("search.", "scheduler.")) and v not in ("None", "[]", "{}", "")
    }
    info["trials_table"] = rows = summary_rows(search)
    chosen = next((r for r in rows if r["trial_id"] == info["best_trial"]), None)
    if chosen is not None:  # what it was selected on: its value at its last epoch
        info["best_epoch"] = chosen["epochs"]
        info["test"] = {k: v for k, v in chosen.items() if k.startswith(TEST_PREFIX)}
    return info
