"""A new SQLite store starts as a copy of an empty template (tracking/template.py): the
first store built is kept as the template without its Default experiment, a later new
store is that copy and works like a built one, and a template MLflow refuses is
replaced, not fatal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adaptune import tracking
from adaptune.tracking import template


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _use(state: Path) -> None:
    """What a search does with a store: an experiment, a run, a metric, a model."""
    client = tracking.setup(tracking.resolve_uri(None, state))
    exp = tracking.ensure_experiment(client, "e", state)
    assert client.get_experiment(exp).artifact_location == (state / "mlartifacts").as_uri()
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "val/acc", 0.5)
    client.create_registered_model("m")
    assert client.get_run(run.info.run_id).data.metrics == {"val/acc": 0.5}
    assert client.get_experiment("0").name == "Default"


def test_first_store_becomes_the_template_and_the_next_is_its_copy(tmp_path: Path) -> None:
    kept = template.template_path()
    assert not kept.exists()
    _use(tmp_path / "a")
    assert kept.is_file()
    assert _rows(kept, "SELECT * FROM experiments") == []  # Default named store a's folder
    version = "SELECT version_num FROM alembic_version"
    assert _rows(kept, version) == _rows(tmp_path / "a" / "mlflow.db", version)

    uri = tracking.resolve_uri(None, tmp_path / "b")
    assert template.seed_store(uri)  # the store's file is the template's copy
    assert not template.seed_store(uri)  # an existing store is never overwritten
    _use(tmp_path / "b")
    assert _rows(tmp_path / "b" / "mlflow.db", "SELECT name FROM experiments ORDER BY name") == [
        ("Default",),
        ("e",),
    ]
    _use(tmp_path / "c")  # seeded inside setup
    assert _rows(kept, "SELECT * FROM experiments") == []  # the template stays empty


def test_a_template_mlflow_refuses_is_replaced(tmp_path: Path) -> None:
    kept = template.template_path()
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"not a database" * 100)
    _use(tmp_path / "a")  # the copy fails to open: built the usual way
    assert _rows(kept, "SELECT * FROM experiments") == []  # and kept as the new template


def test_other_stores_are_left_alone(tmp_path: Path) -> None:
    assert not template.seed_store("http://127.0.0.1:5000")
    assert not template.seed_store("postgresql://u@127.0.0.1/db")
    template.keep_template("http://127.0.0.1:5000")
    assert not template.template_path().exists()


def test_a_template_of_another_schema_is_replaced(tmp_path: Path) -> None:
    _use(tmp_path / "a")
    kept = template.template_path()
    con = sqlite3.connect(kept)
    with con:
        con.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    con.close()
    _use(tmp_path / "b")  # MLflow refuses the copy's schema: the store is built instead
    assert _rows(kept, "SELECT version_num FROM alembic_version") != [("ffffffffffff",)]
