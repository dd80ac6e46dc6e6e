"""MLflow: the search run, one nested run per trial, trial models, guarded promotion.

Embedded default: SQLite tracking + registry (``<state>/mlflow.db``) and artifacts
under ``<state>/mlartifacts``; ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` points at a
server instead. Only the search driver writes to MLflow: workers report to Tune and
this process records, so a SQLite store never sees concurrent writers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

__all__ = [
    "Promotion",
    "default_state_dir",
    "ensure_experiment",
    "find_search_run",
    "log_trial_model",
    "promote",
    "resolve_uri",
]

TAG = "adaptune."
MODEL_TRAINING_KIND = "custom_model_development"  # keeps MLflow 3's UI out of its GenAI view


def default_state_dir() -> Path:
    return Path(os.environ.get("ADAPTUNE_HOME", ".adaptune")).resolve()


def resolve_uri(explicit: str | None, state_dir: Path) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else the embedded SQLite store."""
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state_dir / 'mlflow.db'}"


def setup(uri: str) -> MlflowClient:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(uri, registry_uri=uri)


def ensure_experiment(client: MlflowClient, name: str, state_dir: Path) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    embedded = client.tracking_uri.startswith("sqlite:")
    location = (state_dir / "mlartifacts").as_uri() if embedded else None
    return str(
        client.create_experiment(
            name, artifact_location=location, tags={"mlflow.experimentKind": MODEL_TRAINING_KIND}
        )
    )


def log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, Any], step: int) -> None:
    import time

    now = int(time.time() * 1000)
    batch = [
        Metric(k, float(v), now, step)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    client.log_batch(run_id, metrics=batch)


def log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("torch", "transformers", "pandas", "mlflow")]


def log_trial_model(run_id: str, model_dir: str) -> str:
    """Log a trial's saved model directory as a pyfunc in its run; returns the model URI."""
    from adaptune import serving

    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=serving.__file__,  # models-from-code: nothing is pickled
            artifacts={"model": model_dir},
            pip_requirements=_requirements(),  # explicit: inference costs seconds per model
        )
    return str(info.model_uri)


def find_search_run(client: MlflowClient, search: str) -> Any:
    """A search's parent run, by run id or by search name (its run name)."""
    try:
        run = client.get_run(search)
        if run.data.tags.get(f"{TAG}kind") == "search":
            return run
    except MlflowException:
        pass
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`{TAG}kind` = 'search' and tags.`{TAG}search` = '{search}'",
        max_results=1,
    )
    if not runs:
        raise LookupError(f"no search called '{search}' in {client.tracking_uri}")
    return runs[0]


def trial_runs(client: MlflowClient, search_run: Any) -> list[Any]:
    return list(
        client.search_runs(
            [search_run.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{search_run.info.run_id}'",
            max_results=10000,
        )
    )


@dataclass(frozen=True)
class Promotion:
    model_name: str
    version: str | None
    promoted: bool
    reason: str
    trial_id: str | None = None
    value: float | None = None
    previous: str | None = None


def _better(new: float, old: float, mode: str) -> bool:
    return new < old if mode == "min" else new > old  # a tie keeps the old champion


def promote(
    client: MlflowClient,
    search_run: Any,
    model_name: str,
    alias: str,
    metric: str,
    mode: str,
    dry_run: bool = False,
) -> Promotion:
    """Register the search's best finished trial; move `alias` only if it beats the holder."""
    done = [
        r
        for r in trial_runs(client, search_run)
        if r.data.tags.get(f"{TAG}status") == "completed"
        and r.data.tags.get(f"{TAG}model_uri")
        and metric in r.data.metrics
    ]
    if not done:
        return Promotion(model_name, None, False, "no finished trial with a model")
    pick = min if mode == "min" else max
    best = pick(done, key=lambda r: r.data.metrics[metric])
    value = float(best.data.metrics[metric])
    trial_id = best.data.tags.get(f"{TAG}trial_id")
    current = _champion(client, model_name, alias)
    if current is not None:
        tags = current.tags
        if tags.get(f"{TAG}metric") != metric or tags.get(f"{TAG}mode") != mode:
            return Promotion(
                model_name,
                None,
                False,
                f"{alias} v{current.version} was chosen on {tags.get(f'{TAG}metric')}"
                f"/{tags.get(f'{TAG}mode')}, not comparable with {metric}/{mode}",
                trial_id,
                value,
                current.version,
            )
        old = float(tags[f"{TAG}value"])
        if not _better(value, old, mode):
            return Promotion(
                model_name,
                None,
                False,
                f"{metric}={value:.6g} does not beat {alias} v{current.version} ({old:.6g})",
                trial_id,
                value,
                current.version,
            )
    if dry_run:
        return Promotion(
            model_name,
            None,
            True,
            "dry run: would register and move the alias",
            trial_id,
            value,
            current.version if current else None,
        )
    version = _register(client, best, model_name, metric, mode, value, search_run)
    client.set_registered_model_alias(model_name, alias, version)
    return Promotion(
        model_name,
        version,
        True,
        f"{alias} -> v{version}",
        trial_id,
        value,
        current.version if current else None,
    )


def _champion(client: MlflowClient, name: str, alias: str) -> Any:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _register(
    client: MlflowClient, run: Any, name: str, metric: str, mode: str, value: float, search_run: Any
) -> str:
    existing = client.search_model_versions(f"name = '{name}' and run_id = '{run.info.run_id}'")
    if existing:
        return str(existing[0].version)
    tags = {
        f"{TAG}search": search_run.data.tags.get(f"{TAG}search", ""),
        f"{TAG}trial_id": run.data.tags.get(f"{TAG}trial_id", ""),
        f"{TAG}metric": metric,
        f"{TAG}mode": mode,
        f"{TAG}value": repr(value),
        f"{TAG}data_fingerprint": search_run.data.tags.get(f"{TAG}data_fingerprint", ""),
    }
    mv = mlflow.register_model(run.data.tags[f"{TAG}model_uri"], name, tags=tags)
    if str(mv.run_id or "") != run.info.run_id:  # MLflow 3 logged models may not carry it
        client.set_model_version_tag(name, mv.version, f"{TAG}run_id", run.info.run_id)
    return str(mv.version)
