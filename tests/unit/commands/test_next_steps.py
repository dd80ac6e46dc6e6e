"""The `next:` lines after a search run as printed from any folder: they name the state
folder and the MLflow store wherever the defaults would not find them."""

from __future__ import annotations

import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest

from adaptune.commands.output import next_steps


def _summary(uri: str) -> SimpleNamespace:
    promotion = SimpleNamespace(promoted=True, model_name="dao-q", alias="champion")
    return SimpleNamespace(search="q-1", tracking_uri=uri, promotion=promotion)


def test_every_line_names_the_state_folder_and_the_store(tmp_path: Path) -> None:
    state = tmp_path / "my state"  # not $ADAPTUNE_HOME, and a space to quote
    (state / "reports").mkdir(parents=True)
    (state / "reports" / "q-1.html").write_text("")
    uri = f"sqlite:///{state / 'mlflow.db'}"
    lines = next_steps(_summary(uri), state, "1")
    at = f"adaptune --state-dir {shlex.quote(str(state))} "
    assert lines[2].startswith(f"  {at}ui   # then http://127.0.0.1:5000/#/experiments/1/")
    assert lines[3:] == [
        f"  MLFLOW_TRACKING_URI={shlex.quote(uri)} mlflow models serve -m models:/dao-q@champion"
        " --env-manager local -p 5001",
        f"  import mlflow; mlflow.set_tracking_uri({uri!r}); "
        "model = mlflow.pyfunc.load_model('models:/dao-q@champion')   # Python",
        f"  {at}report q-1 --open   # {state / 'reports' / 'q-1.html'}",
        f"  {at}show q-1",
        f"  {at}dashboard q-1   # optuna-dashboard: its Optuna study",
    ]
    assert shlex.split(lines[-2]) == ["adaptune", "--state-dir", str(state), "show", "q-1"]


def test_a_store_elsewhere_is_named_and_defaults_are_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "home"
    monkeypatch.setenv("ADAPTUNE_HOME", str(state))
    lines = next_steps(_summary("http://mlflow:5000"), state, None)
    assert lines[-2] == "  adaptune --tracking-uri http://mlflow:5000 show q-1"
    assert lines[2].startswith("  MLFLOW_TRACKING_URI=http://mlflow:5000 mlflow models serve")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")  # what the shell has
    lines = next_steps(_summary("http://mlflow:5000"), state, None)
    assert lines[-2] == "  adaptune show q-1"
    assert lines[2].startswith("  mlflow models serve -m models:/dao-q@champion")
