"""Secrets never reach the store: every string written through the client ``setup``
returns (params, tags, run names, text and file artifacts) has secrets replaced by ``***``.

    scrub("postgres://u:hunter2@db/x")   # -> "postgres://u:***@db/x"

Secrets are the values of secret-looking environment variables (``*TOKEN*``, ``*KEY*``,
``*SECRET*``, ``*PASSWORD*``, ``AWS_*``, ...) and URL passwords.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

__all__ = ["REDACTED", "ScrubbingClient", "scrub", "secret_values"]

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
