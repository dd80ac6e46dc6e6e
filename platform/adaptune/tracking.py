"""MLflow: the search run, one nested run per trial, trial models, guarded promotion.

Embedded default: SQLite tracking + registry (``<state>/mlflow.db``) and artifacts
under ``<state>/mlartifacts``; ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` points at a
server instead. Only the search driver writes to MLflow: workers report to Tune and
this process records, so a SQLite store never sees concurrent writers — except two
promotions to one registered model, which ``promote`` serialises and then double-checks.

Secrets never reach the store: every string written through the client ``setup``
returns (params, tags, text and file artifacts) has the values of secret-looking
environment variables (``*TOKEN*``, ``*KEY*``, ``*SECRET*``, ``*PASSWORD*``, ``AWS_*``, ...)
and URL passwords replaced by ``***`` (see ``scrub``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

__all__ = [
    "Promotion",
    "default_state_dir",
    "ensure_experiment",
    "fail_fast",
    "find_run",
    "find_search_run",
    "log_trial_model",
    "promote",
    "resolve_uri",
    "scrub",
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


# The search driver's writes fail fast: the outbox (adaptune.outbox) does the retrying, so
# a dead server costs the Tune loop one refused connection, not MLflow's own ~4 minutes
# of retries with backoff (7 retries, factor 2) or a 120 s timeout per request.
FAIL_FAST_TIMEOUT_ENV = "ADAPTUNE_MLFLOW_TIMEOUT_S"


@contextlib.contextmanager
def fail_fast(timeout_s: int | None = None) -> Iterator[None]:
    """MLflow HTTP requests made inside: no retries, a short timeout (``timeout_s``, else
    ``$ADAPTUNE_MLFLOW_TIMEOUT_S``, else 15 s: per socket operation, not per upload).
    MLflow reads these settings on every request; the previous values come back after."""
    if timeout_s is None:
        timeout_s = int(os.environ.get(FAIL_FAST_TIMEOUT_ENV, "15"))
    settings = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s),
    }
    before = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def setup(uri: str) -> MlflowClient:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    exported = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # MLflow also exports the URIs to the environment; left there they would become the
    # default of every later search in this process (resolve_uri reads them) and of child
    # processes. The fluent API keeps them in its own globals, so the export is undone.
    for key, value in exported.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return ScrubbingClient(uri, registry_uri=uri)


# Environment variables whose values are credentials; values shorter than 8 characters
# ("1", "true") are left alone: redacting them would mangle ordinary text.
SECRET_ENV = re.compile(r"TOKEN|KEY|SECRET|PASSW|CREDENTIAL|AUTH|^AWS_", re.IGNORECASE)
MIN_SECRET_LEN = 8
REDACTED = "***"
_URL_PASSWORD = re.compile(r"(://[^/@:\s]+):[^/@\s]+@")


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of secret-looking environment variables, longest first."""
    env = os.environ if environ is None else environ
    found = {v for k, v in env.items() if SECRET_ENV.search(k) and len(v) >= MIN_SECRET_LEN}
    return sorted(found, key=len, reverse=True)


def scrub(value: Any, secrets: Sequence[str] | None = None) -> Any:
    """`value` (a string, or dicts/lists/tuples of them) with every secret replaced by
    ``***``; other values are returned as they are. Scrub before truncating: a cut
    secret would no longer match."""
    secrets = secret_values() if secrets is None else secrets
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return _URL_PASSWORD.sub(rf"\1:{REDACTED}@", value)
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v, secrets) for v in value)
    return value


def _scrubbed_text(path: Path, secrets: Sequence[str]) -> str | None:
    """The file's text scrubbed, when it is text (under 20 MB) that holds a secret."""
    try:
        if path.stat().st_size > 20 * 2**20:
            return None
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    clean: str = scrub(text, secrets)
    return clean if clean != text else None


class ScrubbingClient(MlflowClient):
    """An MlflowClient that scrubs secrets from everything it writes (``scrub``)."""

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Any:
        return super().create_run(experiment_id, start_time, scrub(tags), scrub(run_name))

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        return super().set_tag(run_id, key, scrub(str(value)), synchronous)

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        return super().log_param(run_id, key, scrub(str(value)), synchronous)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        synchronous: bool | None = None,
    ) -> Any:
        secrets = secret_values()
        params = [Param(p.key, scrub(str(p.value), secrets)) for p in params]
        tags = [RunTag(t.key, scrub(str(t.value), secrets)) for t in tags]
        return super().log_batch(run_id, metrics, params, tags, synchronous)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        super().log_text(run_id, scrub(text), artifact_file)

    def log_dict(self, run_id: str, dictionary: dict[str, Any], artifact_file: str) -> None:
        super().log_dict(run_id, scrub(dictionary), artifact_file)

    def log_artifact(self, run_id: Any, local_path: Any, artifact_path: Any = None) -> None:
        path = Path(local_path)
        if path.is_dir():
            return self.log_artifacts(run_id, str(path), artifact_path)
        clean = _scrubbed_text(path, secret_values())
        if clean is None:
            return super().log_artifact(run_id, str(path), artifact_path)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / path.name).write_text(clean, encoding="utf-8")
            super().log_artifact(run_id, str(Path(tmp) / path.name), artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        secrets = secret_values()
        files = [p for p in Path(local_dir).rglob("*") if p.is_file()]
        cleaned = {p: text for p in files if (text := _scrubbed_text(p, secrets)) is not None}
        if not cleaned:
            return super().log_artifacts(run_id, local_dir, artifact_path)
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "dir"
            shutil.copytree(local_dir, copy)
            for src, text in cleaned.items():
                (copy / src.relative_to(local_dir)).write_text(text, encoding="utf-8")
            super().log_artifacts(run_id, str(copy), artifact_path)


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


def metric_batch(metrics: dict[str, Any], step: int) -> list[Metric]:
    """The numeric entries of `metrics` as MLflow metrics at `step`, stamped now (a write
    that is queued and retried later keeps the time it was measured)."""
    now = int(time.time() * 1000)
    return [
        Metric(k, float(v), now, step)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]


def log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, Any], step: int) -> None:
    client.log_batch(run_id, metrics=metric_batch(metrics, step))


def log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    secrets = secret_values()  # scrubbed before the cut to MLflow's length limit
    items = [Param(k, scrub(str(v), secrets)[:6000]) for k, v in sorted(params.items())]
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


def find_run(client: MlflowClient, name: str, kind: str) -> Any:
    """A run of `kind` ("search": a search's parent run, found by its search name; "job":
    a multi-stage job's run, found by its run name), or the run with id `name`."""
    try:
        run = client.get_run(name)
        if run.data.tags.get(f"{TAG}kind") == kind:
            return run
    except MlflowException:
        pass
    by_name = f"tags.`{TAG}search`" if kind == "search" else "attributes.run_name"
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`{TAG}kind` = '{kind}' and {by_name} = '{name}'",
        max_results=1,
    )
    if not runs:
        raise LookupError(f"no {kind} called '{name}' in {client.tracking_uri}")
    return runs[0]


def find_search_run(client: MlflowClient, search: str) -> Any:
    """A search's parent run, by run id or by search name (its run name)."""
    return find_run(client, search, "search")


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
    """Register the search's best finished trial; move `alias` only if it beats the holder.

    Safe when several searches promote to one registered model at once, on one machine
    or many. MLflow has no transactions, so two layers:

    1. Beside a local store (SQLite file, file store) a file lock serialises the whole
       read-compare-register-move: a worse model never holds the alias, not even briefly.
    2. Against a tracking server there is no shared file to lock; the alias converges by
       compare-and-set instead. A promoter registers its version first, tagged
       ``adaptune.candidate=<alias>`` with its metric, mode and value, and then loops:
       read the alias and every candidate, stop if the alias is on the best, else move
       it there (``_settle``). Whoever writes the alias last re-read it after that write
       and found it on the best of every candidate registered before that read; anyone
       registering later reads after that write too, and would have written again. So
       the alias ends on the best, whatever the interleaving; a worse version can hold it
       only between two promoters' writes.

    Candidates are the versions promoted under this alias on the same metric and mode,
    plus the current holder. Guarded promotion only ever moves the alias to a better
    one, so the best candidate is the rightful holder; to retire a version for good,
    delete its ``adaptune.candidate`` tag.
    """
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
    with _store_lock(client.tracking_uri):
        current = _champion(client, model_name, alias)
        previous = str(current.version) if current is not None else None
        refused = _refusal(current, alias, metric, mode, value)
        if refused:
            return Promotion(model_name, None, False, refused, trial_id, value, previous)
        if dry_run:
            reason = "dry run: would register the model and move the alias to it"
            return Promotion(model_name, None, True, reason, trial_id, value, previous)
        version = _register(client, best, model_name, alias, metric, mode, value, search_run)
        holder = _settle(client, model_name, alias, metric, mode)
    if holder != version:
        reason = f"v{version} registered, but {alias} is on v{holder}: better, promoted meanwhile"
        return Promotion(model_name, version, False, reason, trial_id, value, previous)
    return Promotion(model_name, version, True, f"{alias} -> v{version}", trial_id, value, previous)


def _refusal(current: Any, alias: str, metric: str, mode: str, value: float) -> str | None:
    """Why `value` may not take the alias from its current holder; None if it may."""
    if current is None:
        return None
    tags = current.tags
    if tags.get(f"{TAG}metric") != metric or tags.get(f"{TAG}mode") != mode:
        return (
            f"{alias} v{current.version} was chosen on {tags.get(f'{TAG}metric')}"
            f"/{tags.get(f'{TAG}mode')}, not comparable with {metric}/{mode}"
        )
    old = float(tags[f"{TAG}value"])
    if not _better(value, old, mode):
        return f"{metric}={value:.6g} does not beat {alias} v{current.version} ({old:.6g})"
    return None


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """An exclusive lock beside a local store, held across processes; none for a server."""
    path = _lock_path(uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _lock_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":  # sqlite:////abs/mlflow.db, sqlite:///relative.db
        db = uri.split("?")[0].removeprefix("sqlite:///")
        return Path(f"{db}.promote.lock") if db and db != ":memory:" else None
    if parsed.scheme in ("", "file"):  # a file store's folder
        return Path(parsed.path or uri) / ".promote.lock"
    return None  # a tracking server or database: compare-and-set alone (see promote)


def _settle(client: MlflowClient, name: str, alias: str, metric: str, mode: str) -> str:
    """Move `alias` to the best candidate until reading it back agrees; returns its holder."""
    for _ in range(50):
        holder = _champion(client, name, alias)
        best = _best_candidate(client, name, alias, metric, mode, holder)
        if holder is not None and str(holder.version) == best:
            return best
        client.set_registered_model_alias(name, alias, best)
    raise RuntimeError(f"{name}@{alias} kept moving while promoting; run promote again")


def _best_candidate(
    client: MlflowClient, name: str, alias: str, metric: str, mode: str, holder: Any
) -> str:
    versions = list(client.search_model_versions(f"name = '{name}'"))
    candidates = [v for v in versions if v.tags.get(f"{TAG}candidate") == alias]
    if holder is not None:
        candidates.append(holder)
    comparable = [
        v
        for v in candidates
        if v.tags.get(f"{TAG}metric") == metric
        and v.tags.get(f"{TAG}mode") == mode
        and f"{TAG}value" in v.tags
    ]
    sign = 1.0 if mode == "min" else -1.0  # ties: the older version keeps it
    top = min(comparable, key=lambda v: (sign * float(v.tags[f"{TAG}value"]), int(v.version)))
    return str(top.version)


def _champion(client: MlflowClient, name: str, alias: str) -> Any:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _register(
    client: MlflowClient,
    run: Any,
    name: str,
    alias: str,
    metric: str,
    mode: str,
    value: float,
    search_run: Any,
) -> str:
    """The trial's model version (registered once per run), tagged a candidate for `alias`
    before the alias moves (promote counts on that order)."""
    run_id = run.info.run_id
    for mv in client.search_model_versions(f"name = '{name}'"):
        if run_id in (mv.run_id, mv.tags.get(f"{TAG}run_id")):
            client.set_model_version_tag(name, mv.version, f"{TAG}candidate", alias)
            return str(mv.version)
    tags = {
        f"{TAG}search": search_run.data.tags.get(f"{TAG}search", ""),
        f"{TAG}trial_id": run.data.tags.get(f"{TAG}trial_id", ""),
        f"{TAG}run_id": run_id,
        f"{TAG}metric": metric,
        f"{TAG}mode": mode,
        f"{TAG}value": repr(value),
        f"{TAG}data_fingerprint": search_run.data.tags.get(f"{TAG}data_fingerprint", ""),
        f"{TAG}candidate": alias,
    }
    mv = mlflow.register_model(run.data.tags[f"{TAG}model_uri"], name, tags=tags)
    return str(mv.version)
