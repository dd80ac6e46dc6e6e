"""Secrets never reach the store: every string written through the client ``setup``
returns (params, tags, run and experiment names, text and file artifacts) has secrets
replaced by ``***``; a logged model's folder is scrubbed the same way (``scrubbed_copy``).

    scrub("postgres://u:hunter2@db/x")   # -> "postgres://u:***@db/x"

What a secret is (environment values, well-known token shapes, ``password=...``, URL
passwords) is ``adaptune.redact``'s. A name that is looked up later (an experiment) is
scrubbed on lookup too, so it is found by what the user typed.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from adaptune.redact import REDACTED, scrub, secret_values

__all__ = ["REDACTED", "ScrubbingClient", "scrub", "scrubbed_copy", "secret_values"]


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
        with scrubbed_copy(local_dir) as clean:
            super().log_artifacts(run_id, clean, artifact_path)

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, Any] | None = None,
    ) -> str:
        return super().create_experiment(scrub(name), artifact_location, scrub(tags))

    def get_experiment_by_name(self, name: str) -> Any:
        return super().get_experiment_by_name(scrub(name))


@contextlib.contextmanager
def scrubbed_copy(local_dir: str, keep: frozenset[str] = frozenset()) -> Iterator[str]:
    """`local_dir` itself when no text file in it holds a secret, else a scrubbed copy
    (removed on exit). Files named in `keep` are left as they are (a tokenizer's
    vocabulary: its entry "secret": 3595 is a word, and scrubbing it breaks the model)."""
    secrets = secret_values()
    files = [p for p in Path(local_dir).rglob("*") if p.is_file() and p.name not in keep]
    cleaned = {p: text for p in files if (text := _scrubbed_text(p, secrets)) is not None}
    if not cleaned:
        yield local_dir
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / Path(local_dir).name
        shutil.copytree(local_dir, copy)
        for src, text in cleaned.items():
            (copy / src.relative_to(local_dir)).write_text(text, encoding="utf-8")
        yield str(copy)
