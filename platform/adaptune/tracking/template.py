"""A new SQLite store copied from an empty one instead of built migration by migration.

    with store_lock(uri):
        seeded = seed_store(uri)    # a missing store's file: a copy of the template, if any
        client = MlflowClient(uri)  # verifies the copy's schema, or builds one
        keep_template(uri)          # the first store built: kept as the template

MLflow builds a new store's schema by running each of its migrations (~2 s of CPU on a
2-core machine: on a first search's path to its first trial). That empty schema is the
same for every store of one MLflow version, so the first store this machine builds is
kept, less its Default experiment (whose row names that store's artifact folder), under
``$XDG_CACHE_HOME/adaptune`` (else ``~/.cache/adaptune``), one file per MLflow version;
later new stores start as a copy of it. MLflow verifies the copy's schema version when
it opens it and creates the Default experiment with the new store's own artifact root.
A template that is not this MLflow's empty schema is deleted and the store built the
usual way (and kept as the new template).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

__all__ = ["keep_template", "seed_store", "sqlite_file", "template_path"]

EXPERIMENTS = "SELECT experiment_id FROM experiments"


def template_path() -> Path:
    import mlflow

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "adaptune" / f"mlflow-{mlflow.__version__}-empty-store.db"


def sqlite_file(uri: str) -> Path | None:
    """The file of a local SQLite store's URI; None for any other store."""
    if not uri.startswith("sqlite:///") or "?" in uri:
        return None
    return Path(uri.removeprefix("sqlite:///"))


def seed_store(uri: str) -> bool:
    """Copy the template to a local SQLite store that does not exist yet (call under the
    store's lock). True when the store's file is now that copy."""
    db, template = sqlite_file(uri), template_path()
    if db is None or db.exists() or not template.is_file():
        return False
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            contextlib.closing(sqlite3.connect(template)) as src,
            contextlib.closing(sqlite3.connect(db)) as dst,
        ):
            src.backup(dst)
            ok = _schema(dst) == _mlflow_schema() and not dst.execute(EXPERIMENTS).fetchall()
    except (OSError, sqlite3.Error):
        ok = False
    if not ok:  # not a database, or not this MLflow's empty one: the copy and the template
        for path in (db, template):  # both go, and the store is built the usual way
            with contextlib.suppress(OSError):
                path.unlink()
    return ok


def _schema(con: sqlite3.Connection) -> str:
    return str(con.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def _mlflow_schema() -> str:
    """The schema version this MLflow builds and accepts (what it checks on open)."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    return str(_get_latest_schema_revision())


def keep_template(uri: str) -> None:
    """Save a just-built store, less its Default experiment, as the template (once per
    MLflow version; a machine whose cache folder cannot be written skips it)."""
    db, template = sqlite_file(uri), template_path()
    if db is None or template.exists() or not db.is_file():
        return
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=template.parent, suffix=".db")
    except OSError:  # a cache folder that cannot be written: no template
        return
    os.close(fd)
    tmp = Path(name)
    try:
        with (
            contextlib.closing(sqlite3.connect(db)) as src,
            contextlib.closing(sqlite3.connect(tmp)) as dst,
        ):
            src.backup(dst)
            with dst:
                dst.execute("DELETE FROM experiment_tags WHERE experiment_id = 0")
                dst.execute("DELETE FROM experiments WHERE experiment_id = 0")
            empty = not dst.execute(EXPERIMENTS).fetchall()
        if empty:  # else not an empty store after all: not a template
            os.replace(tmp, template)  # atomic: a concurrent reader sees all of it or none
    except (OSError, sqlite3.Error):
        pass
    finally:
        tmp.unlink(missing_ok=True)
