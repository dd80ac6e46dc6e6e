"""Names a job gives MLflow, checked up front with MLflow's own rules (mlflow.utils.validation,
3.17), so a search cannot fail at its very end when it registers the model:

    model_name_problem("team/dao:v2")   # -> "cannot contain '/' or ':' (MLflow's rule)"
    alias_problem("latest")             # -> "'latest' is reserved by MLflow"

The rules are restated here because the job package imports no MLflow (``validate`` stays
fast); tests/unit/job/test_names.py holds them to MLflow's own validators.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator

from adaptune.redact import scrub

__all__ = [
    "Alias",
    "ExperimentName",
    "ModelName",
    "NoSecret",
    "TrackingURI",
    "alias_problem",
    "experiment_problem",
    "model_name_problem",
    "tracking_uri_problem",
]

MAX_EXPERIMENT_NAME = 500  # MAX_EXPERIMENT_NAME_LENGTH
MAX_ALIAS = 255  # MAX_REGISTERED_MODEL_ALIAS_LENGTH
_ALIAS = re.compile(r"^[\w\-]*$")  # _REGISTERED_MODEL_ALIAS_REGEX
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")  # _REGISTERED_MODEL_ALIAS_VERSION_REGEX
# Stores MLflow's tracking client opens (a plain path is a file store).
TRACKING_SCHEMES = (
    "http",
    "https",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "file",
    "databricks",
    "databricks-uc",
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def secret_problem(name: str) -> str | None:
    """A name that holds a secret would be stored redacted (``***``), and could not be
    found again by what the user typed: refused (adaptune.redact says what a secret is)."""
    if scrub(name) != name:
        return "holds what looks like a secret (a token or password); it would be stored as ***"
    return None


def experiment_problem(name: str) -> str | None:
    if not name:
        return "an experiment name cannot be empty"
    if len(name) > MAX_EXPERIMENT_NAME:
        return f"{len(name)} characters; MLflow takes at most {MAX_EXPERIMENT_NAME}"
    return secret_problem(name)


def model_name_problem(name: str) -> str | None:
    if not name.strip():
        return "a model name cannot be empty"
    if "/" in name or ":" in name:
        return "cannot contain '/' or ':' (MLflow's rule for registered models)"
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith(".."):
        return f"MLflow refuses names that read as another path ('{norm}')"
    return secret_problem(name)


def alias_problem(alias: str) -> str | None:
    if not alias:
        return "an alias cannot be empty"
    if not _ALIAS.match(alias):
        return "may only contain letters, digits, '_' and '-' (MLflow's rule for aliases)"
    if len(alias) > MAX_ALIAS:
        return f"{len(alias)} characters; MLflow takes at most {MAX_ALIAS}"
    if alias.lower() == "latest":
        return "'latest' is reserved by MLflow (it always means the newest version)"
    if _VERSION_ALIAS.match(alias):
        return f"'{alias}' is reserved by MLflow (it names a version)"
    return None


def tracking_uri_problem(uri: str) -> str | None:
    if not uri.strip():
        return "empty; leave it out (null) for the embedded store"
    match = _SCHEME.match(uri)
    if match is None or len(match.group(1)) == 1:  # a plain (or Windows drive) path
        return None
    scheme = match.group(1).lower().split("+")[0]  # postgresql+psycopg2 -> postgresql
    if scheme not in TRACKING_SCHEMES:
        return f"unknown scheme '{match.group(1)}'; MLflow reads {', '.join(TRACKING_SCHEMES)}"
    return None


def _refused_by(problem_of: Callable[[str], str | None]) -> AfterValidator:
    def check(value: str) -> str:
        problem = problem_of(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


# The spec's field types (job/spec.py): a refused name is a "Value error, <why>".
ModelName = Annotated[str, _refused_by(model_name_problem)]
Alias = Annotated[str, _refused_by(alias_problem)]
ExperimentName = Annotated[str, _refused_by(experiment_problem)]
TrackingURI = Annotated[str, _refused_by(tracking_uri_problem)]
NoSecret = Annotated[str, _refused_by(secret_problem)]
