"""The MLflow store: where it is, the client that writes to it, and run lookups.

    client = setup(resolve_uri(None, state_dir))      # the embedded SQLite store
    run = find_run(client, "quickstart-20261126-071500", Kind.SEARCH)

Embedded default: SQLite tracking + registry (``<state>/mlflow.db``) and artifacts
under ``<state>/mlartifacts``; ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` points at a
server instead. Only the search driver writes to MLflow: workers report to Tune and
this process records, so a SQLite store never sees concurrent writers — except two
promotions to one registered model, which ``promote`` serialises and then double-checks.
The client scrubs secrets from everything it writes (``scrub.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from adaptune.credentials import adopt_uri_credentials
from adaptune.method import TEST_PREFIX
from adaptune.tracking import template
from adaptune.tracking.names import Kind, Tag, TrialMetric
from adaptune.tracking.reach import bounded_http, check_reachable, store_lock
from adaptune.tracking.scrub import ScrubbingClient, scrub, scrubbed_copy, secret_values

__all__ = [
    "child_runs",
    "cli_flags",
    "default_state_dir",
    "ensure_experiment",
    "fail_fast",
    "find_run",
    "log_params",
    "log_trial_model",
    "metric_batch",
    "mlflow_env",
    "resolve_uri",
    "seeded_runs",
    "series_batch",
    "setup",
    "trial_runs",
]

MODEL_TRAINING_KIND = "custom_model_development"  # keeps MLflow 3's UI out of its GenAI view


def default_state_dir() -> Path:
    """$ADAPTUNE_HOME (an empty value counts as unset), else ./.adaptune."""
    return Path(os.environ.get("ADAPTUNE_HOME") or ".adaptune").resolve()


def resolve_uri(explicit: str | None, state_dir: Path) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else the embedded SQLite store. An http(s)
    URI's user:password@ moves to MLflow's $MLFLOW_TRACKING_USERNAME/PASSWORD (credentials.py)."""
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return adopt_uri_credentials(uri)
    state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state_dir / 'mlflow.db'}"


def cli_flags(state_dir: Path, uri: str) -> str:
    """What an `adaptune` command printed for the user needs to find this state folder and
    store from any folder ("--state-dir DIR --tracking-uri URI ", absolute and quoted): no
    --state-dir where $ADAPTUNE_HOME names the folder (./.adaptune depends on the folder),
    no --tracking-uri where the folder's default store (or $MLFLOW_TRACKING_URI) is it."""
    home = os.environ.get("ADAPTUNE_HOME")
    state = state_dir.resolve()
    flags = (
        "" if home and Path(home).resolve() == state else f"--state-dir {shlex.quote(str(state))} "
    )
    if uri != resolve_uri(None, state):
        flags += f"--tracking-uri {shlex.quote(scrub(uri))} "  # a database's password: ***
    return flags


def mlflow_env(uri: str) -> str:
    """ "MLFLOW_TRACKING_URI=URI " before an `mlflow` command printed for the user, unless
    the environment names that store already: without it MLflow opens ./mlflow.db."""
    return (
        ""
        if os.environ.get("MLFLOW_TRACKING_URI") == uri
        else f"MLFLOW_TRACKING_URI={shlex.quote(scrub(uri))} "
    )


# The search driver's writes fail fast: the outbox (adaptune.tracking.outbox) does the retrying, so
# a dead server costs the Tune loop one refused connection, not MLflow's own ~4 minutes
# of retries with backoff (7 retries, factor 2) or a 120 s timeout per request.
FAIL_FAST_TIMEOUT_ENV = "ADAPTUNE_MLFLOW_TIMEOUT_S"


@contextlib.contextmanager
def fail_fast() -> Iterator[None]:
    """MLflow HTTP requests made inside: no retries, a short timeout
    (``$ADAPTUNE_MLFLOW_TIMEOUT_S``, else 15 s: per socket operation, not per upload).
    MLflow reads these settings on every request; the previous values come back after."""
    settings = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(int(os.environ.get(FAIL_FAST_TIMEOUT_ENV, "15"))),
    }
    before = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        _restore_env(before)


def _restore_env(saved: dict[str, str | None]) -> None:
    """Put environment variables back as `saved` found them (None: unset)."""
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def setup(uri: str) -> MlflowClient:
    """The scrubbing client of the store at `uri`, opened: an http(s) server must answer
    within seconds (TrackingUnreachable, one line), requests are bounded (reach.py), and a
    new SQLite store is created by one process at a time."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    bounded_http()
    check_reachable(uri)
    exported = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # MLflow also exports the URIs to the environment; left there they would become the
    # default of every later search in this process (resolve_uri reads them) and of child
    # processes. The fluent API keeps them in its own globals, so the export is undone.
    _restore_env(exported)
    with store_lock(uri):  # opening a new SQLite store creates its tables: one at a time
        db = template.sqlite_file(uri)
        new = db is not None and not db.exists()
        seeded = new and template.seed_store(uri)  # a copy of an empty store (template.py)
        client = ScrubbingClient(uri, registry_uri=uri)
        if uri.startswith("sqlite:"):  # the registry's store opens lazily: now
            client.search_registered_models(max_results=1)
        if new and not seeded:
            template.keep_template(uri)
    return client


def ensure_experiment(client: MlflowClient, name: str, state_dir: Path) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    embedded = client.tracking_uri.startswith("sqlite:")
    location = (state_dir / "mlartifacts").resolve().as_uri() if embedded else None
    try:
        return str(
            client.create_experiment(
                name,
                artifact_location=location,
                tags={"mlflow.experimentKind": MODEL_TRAINING_KIND},
            )
        )
    except MlflowException:  # another search created it since the lookup
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return str(exp.experiment_id)


def metric_batch(metrics: dict[str, Any], step: int) -> list[Metric]:
    """The numeric entries of `metrics` as MLflow metrics at `step`, stamped now (a write
    that is queued and retried later keeps the time it was measured)."""
    now = int(time.time() * 1000)
    return [
        Metric(k, float(v), now, step)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]


def series_batch(series: dict[str, Any]) -> list[Metric]:
    """A method's per-step series ({name: [(step, value), ...]}) as MLflow metrics
    ("dao/w_c" as "dao_step/w_c": TrialMetric.per_step) at their optimiser steps."""
    now = int(time.time() * 1000)
    return [
        Metric(TrialMetric.per_step(name), float(v), now, int(step))
        for name, points in series.items()
        for step, v in points
    ]


def log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    secrets = secret_values()  # scrubbed before the cut to MLflow's length limit
    items = [Param(k, scrub(str(v), secrets)[:6000]) for k, v in sorted(params.items())]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])


SERVING_CODE = Path(__file__).parent.parent / "serving.py"  # the pyfunc, logged as code
# Tokenizer vocabularies in a saved model: words and ids, left unscrubbed (see below).
VOCABULARY_FILES = frozenset({"tokenizer.json", "vocab.json", "vocab.txt", "merges.txt"})
# What a served model imports (adaptune itself ships as code with the model): pinned to
# this environment's versions, so `mlflow models serve` outside the repo's venv matches.
SERVING_PACKAGES = ("mlflow", "torch", "transformers", "peft", "pandas", "numpy", "pyyaml")


def _requirements(model_dir: str | Path | None = None) -> list[str]:
    """The serving packages pinned, and the packages that ship the frozen backbones the
    model references (methods/encoder.py writes them to backbone.json files): a model
    holding LoRA adapters alone loads its backbone from there."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in SERVING_PACKAGES:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    for ref in Path(model_dir).rglob("backbone.json") if model_dir else ():
        shipped = json.loads(ref.read_text())
        if shipped.get("package"):
            pins.append(f"{shipped['package']}=={shipped['version']}")
    return sorted(set(pins), key=pins.index)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow without its chatter: INFO lines, the type-hint warning of every pyfunc
    (``predict`` is untyped on purpose, see serving.py) and the registry's printed
    "Successfully registered model" / "Created version" lines. Warnings still show."""
    import logging
    import warnings

    from mlflow.utils import logging_utils

    logger = logging.getLogger("mlflow")
    level, stream = logger.level, logging_utils.MLFLOW_LOGGING_STREAM.enabled
    show = warnings.showwarning

    def shown(message: Any, *args: Any, **kwargs: Any) -> None:
        # a filter would not do: MLflow pushes its own ("once") while it logs a model
        if "type hints to the `predict` method" not in str(message):
            show(message, *args, **kwargs)

    logger.setLevel(max(level, logging.WARNING))
    logging_utils.MLFLOW_LOGGING_STREAM.enabled = False  # eprint(): the registry's prints
    warnings.showwarning = shown
    try:
        yield
    finally:
        warnings.showwarning = show
        logger.setLevel(level)
        logging_utils.MLFLOW_LOGGING_STREAM.enabled = stream


def signature_of(example: Any) -> tuple[Any, Any]:
    """(signature, input example) from a method's plain example (``Method.input_example``).

    A list of values (texts) becomes one unnamed column, so JSON arrays (``{"inputs":
    [...]}``), lists and Series are accepted as they are and a one-column frame by its
    name; a list of records becomes named columns, the first required and the rest
    optional (DAMA's ``domain``: guessed when absent); array columns accept any shape."""
    if example is None:
        return None, None
    import pandas as pd
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType, Array

    if isinstance(example, list) and example and isinstance(example[0], dict):
        frame = pd.DataFrame(example)
        inferred = infer_signature(frame).inputs.inputs
        # An array column (MAD's image) takes any shape: 8x8 grey or 3xHxW colour.
        columns: list[Any] = [
            ColSpec(AnyType() if isinstance(c.type, Array) else c.type, c.name, required=i == 0)
            for i, c in enumerate(inferred)
        ]
        return ModelSignature(inputs=Schema(columns)), frame
    return infer_signature(list(example)), list(example)


def log_trial_model(
    run_id: str,
    model_dir: str,
    *,
    input_example: Any = None,
    step: int = 0,
) -> str:
    """Log a trial's saved model directory as a pyfunc in its run; returns the model URI.

    The model carries its signature and input example (from the method's example), the
    adaptune package as code (it loads where adaptune is not installed) and pinned
    requirements. Logged at `step` (the trial's last epoch), it gets the run's metrics of
    that epoch and its params (MLflow links them), so the Models tab can rank trials."""
    from unittest import mock

    import adaptune

    signature, example = signature_of(input_example)
    # MLflow would check the example by loading the model and predicting (~15 s per trial,
    # in the search driver, which has no argument to skip it); the tests serve it instead.
    no_check = mock.patch("mlflow.models.utils._validate_serving_input", lambda *a, **k: None)
    # the model's own files (configs, metadata) are scrubbed like every other artifact;
    # its vocabulary is data, not text someone wrote (scrubbing "secret": 3595 breaks it)
    clean_copy = scrubbed_copy(model_dir, keep=VOCABULARY_FILES)
    with quiet(), no_check, clean_copy as clean, mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(SERVING_CODE),  # models-from-code: nothing is pickled
            artifacts={"model": clean},
            code_paths=[str(Path(adaptune.__file__).parent)],
            # explicit: inference costs seconds per model
            pip_requirements=_requirements(model_dir),
            signature=signature,
            input_example=example,
            step=step,
        )
    return str(info.model_uri)


def find_run(client: MlflowClient, name: str, kind: str | None = None) -> Any:
    """A run of `kind` ("search": a search's parent run, found by its search name; "job":
    a multi-stage job's run, found by its run name), or the run with id `name`; no kind:
    a search, else a job. The name is scrubbed as it was when written, so a name holding
    a secret is still found."""
    if kind is None:
        for kind in (Kind.SEARCH, Kind.JOB):
            with contextlib.suppress(LookupError):
                return find_run(client, name, kind)
        raise LookupError(f"no search or job called '{name}' in {client.tracking_uri}")
    if any(c in name for c in "'\"`\\"):  # no search name has one; MLflow's filter would break
        raise LookupError(f"no {kind} called {name!r}: names hold no quotes")
    name = scrub(name)
    try:
        run = client.get_run(name)
        if run.data.tags.get(Tag.KIND) == kind:
            return run
    except MlflowException:
        pass
    by_name = f"tags.`{Tag.SEARCH}`" if kind == Kind.SEARCH else "attributes.run_name"
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`{Tag.KIND}` = '{kind}' and {by_name} = '{name}'",
        max_results=1,
    )
    if not runs:
        raise LookupError(f"no {kind} called '{name}' in {client.tracking_uri}")
    return runs[0]


def trial_runs(client: MlflowClient, search_run: Any) -> list[Any]:
    return list(
        client.search_runs(
            [search_run.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{search_run.info.run_id}'",
            max_results=10000,
        )
    )


def child_runs(client: MlflowClient, parent_id: str, kind: str) -> list[Any]:
    """The runs of `kind` nested under run `parent_id`, oldest first, in any experiment (a
    stage may log to its own)."""
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and tags.`{Tag.KIND}` = '{kind}'",
        max_results=1000,
    )
    return sorted(runs, key=lambda r: r.info.start_time or 0)


def seeded_runs(client: MlflowClient, best_run_id: str) -> tuple[Any, list[dict[str, float]]]:
    """The best run, and one row per seed: its ``seed`` and test metrics, from the seeded
    re-runs (kind ``rerun``) of the search that holds it that scored the test split, in
    seed order; with none, the best run's own. What a method's job report compares."""
    best = client.get_run(best_run_id)
    parent = best.data.tags.get("mlflow.parentRunId")
    found = [
        r
        for r in (child_runs(client, parent, Kind.RERUN) if parent else [])
        if any(k.startswith(TEST_PREFIX) for k in r.data.metrics)
    ]
    rows = [
        {
            "seed": float(r.data.params.get("seed", 0)),
            **{k: v for k, v in r.data.metrics.items() if k.startswith(TEST_PREFIX)},
        }
        for r in (found or [best])
    ]
    return best, sorted(rows, key=lambda row: row["seed"])
