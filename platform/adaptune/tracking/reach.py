"""Opening an MLflow store safely: a server that does not answer fails in seconds with one
line, and two processes creating the same SQLite store do not race.

    check_reachable("http://mlflow:5000")        # ConnectionError if nothing listens
    with store_lock("sqlite:////state/mlflow.db"):
        ...                                       # the first process creates the tables

MLflow's own defaults would retry a dead server 7 times with backoff and wait 120 s per
request (``promote`` sat silent for ~8 minutes); ``bounded_http`` lowers both unless the
user set them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["TrackingUnreachable", "bounded_http", "check_reachable", "locked", "store_lock"]

CONNECT_TIMEOUT_S = 5.0
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


class TrackingUnreachable(ConnectionError):
    """The tracking server named does not accept connections (one line)."""


def bounded_http() -> None:
    """At most 2 retries and 30 s per request, unless the environment says otherwise."""
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)


def check_reachable(uri: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """For an http(s) store: something accepts a connection at its host and port."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout_s):
            pass
    except OSError as e:
        reason = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        where = f"{parsed.scheme}://{parsed.hostname}:{port}"
        raise TrackingUnreachable(
            f"the MLflow tracking server {where} does not answer ({reason})"
        ) from None


def store_lock(uri: str) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock beside a SQLite store's file while it is first opened (MLflow
    creates the tables then: two first searches at once would both try, and one fail
    with "table ... already exists"). Other stores: no lock."""
    if not uri.startswith("sqlite:///"):
        return contextlib.nullcontext()
    db = Path(uri.removeprefix("sqlite:///"))
    return locked(db.with_name(db.name + ".lock"))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the file `path` (created with its folder), held across
    processes (promotion's lock beside a local store uses it too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
