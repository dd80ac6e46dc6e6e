"""Guarded promotion on a real SQLite MLflow store (no Ray): the alias moves only to a
strictly better model, also when two processes promote to one model name at once."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from tests.conftest import ROOT

from adaptune import tracking
from adaptune.cli import main
from adaptune.tracking import promotion as promote_lib
from adaptune.tracking.names import Kind

TAG = tracking.names.PREFIX
METRIC = "val/mse"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One store for the module (creating its tables takes seconds); names differ per test."""
    state = tmp_path_factory.mktemp("promote") / "state"
    uri = tracking.resolve_uri(None, state)
    client = tracking.setup(uri)
    exp = tracking.ensure_experiment(client, "promote", state)
    yield {"uri": uri, "state": state, "client": client, "exp": exp, "n": [0]}


def make_search(store: dict[str, Any], value: float, model: str) -> str:
    """A finished search whose one completed trial, its chosen best, has `value` and a
    (tiny) model."""
    client: MlflowClient = store["client"]
    store["n"][0] += 1
    name = f"s{store['n'][0]}"
    parent = client.create_run(
        store["exp"],
        run_name=name,
        tags={
            f"{TAG}kind": "search",
            f"{TAG}search": name,
            f"{TAG}model_name": model,
            f"{TAG}alias": "champion",
            f"{TAG}metric": METRIC,
            f"{TAG}mode": "min",
            f"{TAG}best_trial": f"t-{name}",
        },
    )
    trial = client.create_run(
        store["exp"],
        run_name=f"t-{name}",
        tags={
            "mlflow.parentRunId": parent.info.run_id,
            f"{TAG}trial_id": f"t-{name}",
            f"{TAG}status": "completed",
        },
    )
    model_dir = store["state"] / "models" / name
    model_dir.mkdir(parents=True)
    (model_dir / "weights.txt").write_text(name)
    client.log_artifact(trial.info.run_id, str(model_dir / "weights.txt"), "model")
    uri = client.get_run(trial.info.run_id).info.artifact_uri + "/model"
    client.set_tag(trial.info.run_id, f"{TAG}model_uri", uri)
    client.log_metric(trial.info.run_id, METRIC, value)
    return name


def promote(store: dict[str, Any], search: str, model: str, dry: bool = False) -> Any:
    client = store["client"]
    run = tracking.find_run(client, search, Kind.SEARCH)
    return tracking.promote(client, run, model, "champion", METRIC, "min", dry_run=dry)


def champion_value(store: dict[str, Any], model: str) -> float:
    mv = store["client"].get_model_version_by_alias(model, "champion")
    return float(mv.tags[f"{TAG}value"])


def test_better_model_takes_the_alias_worse_and_tie_do_not(store: dict[str, Any]) -> None:
    first = promote(store, make_search(store, 0.5, "seq"), "seq")
    assert first.promoted and first.version == "1"
    worse = promote(store, make_search(store, 0.6, "seq"), "seq")
    tie = promote(store, make_search(store, 0.5, "seq"), "seq")
    assert not worse.promoted and "does not beat champion v1" in worse.reason
    assert not tie.promoted and worse.version is None and tie.version is None
    better = promote(store, make_search(store, 0.2, "seq"), "seq")
    assert better.promoted and better.previous == "1"
    assert champion_value(store, "seq") == 0.2
    assert len(store["client"].search_model_versions("name = 'seq'")) == 2  # losers unregistered


def test_promoting_the_same_search_again_registers_nothing_new(store: dict[str, Any]) -> None:
    search = make_search(store, 0.4, "again")
    assert promote(store, search, "again").promoted
    again = promote(store, search, "again")  # not "does not beat champion v1": it is v1
    assert again.reason == "already champion: v1 is this trial's model", again.reason
    assert again.promoted and again.version == again.previous == "1"
    assert len(store["client"].search_model_versions("name = 'again'")) == 1


def test_the_version_says_which_scores_are_val_and_which_test(store: dict[str, Any]) -> None:
    """The version carries the val score it was selected on and the held-out test score,
    each under its own name; what the alias compares (value) is the val one."""
    client: MlflowClient = store["client"]
    search = make_search(store, 0.25, "labelled")
    run = tracking.find_run(client, search, Kind.SEARCH)
    client.log_metric(run.info.run_id, "test/mse", 0.75)  # what driver/final.py records
    assert promote(store, search, "labelled").promoted
    tags = client.get_model_version_by_alias("labelled", "champion").tags
    assert (tags[f"{TAG}metric"], tags[f"{TAG}value_kind"]) == (METRIC, "val")
    assert float(tags[f"{TAG}val.mse"]) == float(tags[f"{TAG}value"]) == 0.25
    assert float(tags[f"{TAG}test.mse"]) == 0.75


def test_a_stale_read_never_lets_a_worse_model_take_the_alias(
    store: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As against a tracking server (no lock): the worse promoter read the champion before
    the better one arrived, so it registers; the re-check keeps the alias on the better."""
    better, worse = make_search(store, 0.1, "stale"), make_search(store, 0.9, "stale")
    assert promote(store, better, "stale").promoted
    monkeypatch.setattr(promote_lib, "_store_lock", lambda uri: contextlib.nullcontext())
    monkeypatch.setattr(promote_lib.evidence, "judge", lambda *a: None)  # what a stale read decides
    moves: list[str] = []
    original = MlflowClient.set_registered_model_alias

    def record(self: MlflowClient, name: str, alias: str, version: str) -> None:
        moves.append(str(version))
        original(self, name, alias, version)

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", record)
    result = promote(store, worse, "stale")
    assert not result.promoted and result.version == "2"
    assert "is on v1: better, promoted meanwhile" in result.reason
    assert moves == [] and champion_value(store, "stale") == 0.1


def test_a_worse_version_holding_the_alias_is_moved_to_the_best(
    store: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other interleaving: the worse one's write landed last; the next check fixes it."""
    better, worse = make_search(store, 0.1, "late"), make_search(store, 0.9, "late")
    assert promote(store, better, "late").promoted
    monkeypatch.setattr(promote_lib.evidence, "judge", lambda *a: None)
    monkeypatch.setattr(promote_lib, "_settle", lambda client, name, *a: "2")  # register only
    promote(store, worse, "late")
    monkeypatch.undo()
    store["client"].set_registered_model_alias("late", "champion", "2")  # its write, last
    assert champion_value(store, "late") == 0.9
    assert promote_lib._settle(store["client"], "late", "champion", METRIC, "min") == "1"
    assert champion_value(store, "late") == 0.1


WORKER = """
import contextlib, json, sys, time
from adaptune import tracking
from adaptune.tracking import promotion as promote_lib
from adaptune.tracking.names import Kind
uri, lock = sys.argv[1], sys.argv[2] == "lock"
if not lock:  # as against a tracking server: no file to lock, compare-and-set alone
    promote_lib._store_lock = lambda uri: contextlib.nullcontext()
client = tracking.setup(uri)
print("ready", flush=True)
for line in sys.stdin:
    search, model, delay = json.loads(line)
    run = tracking.find_run(client, search, Kind.SEARCH)
    time.sleep(delay)
    p = tracking.promote(client, run, model, "champion", "val/mse", "min")
    print(json.dumps([p.promoted, p.version]), flush=True)
"""


@pytest.mark.parametrize("lock", ["lock", "no-lock"])
def test_two_processes_promoting_at_once_end_on_the_better(
    store: dict[str, Any], lock: str
) -> None:
    # Rounds: (delay of process 0, of process 1, who has the better model, prior champion)
    rounds = [(0.0, 0.0, 0, None), (0.0, 0.0, 1, None), (0.0, 0.02, 0, None)]
    rounds += [(0.02, 0.0, 0, None), (0.0, 0.0, 1, 0.5), (0.0, 0.005, 0, 0.5)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, store["uri"], lock],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    try:
        for p in procs:  # both started and connected: the rounds begin together
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for r, (d0, d1, better_proc, prior) in enumerate(rounds):
            model = f"race-{lock}-{r}"
            if prior is not None:
                assert promote(store, make_search(store, prior, model), model).promoted
            values = [0.3, 0.6] if better_proc == 0 else [0.6, 0.3]
            searches = [make_search(store, v, model) for v in values]
            for p, search, delay in zip(procs, searches, (d0, d1), strict=True):
                assert p.stdin is not None
                p.stdin.write(json.dumps([search, model, delay]) + "\n")
                p.stdin.flush()
            results = [json.loads(p.stdout.readline()) for p in procs if p.stdout]
            assert results[better_proc][0], (r, results)  # the better one always wins
            assert champion_value(store, model) == 0.3, (r, results)
    finally:
        for p in procs:
            if p.stdin:
                p.stdin.close()
            p.wait(timeout=60)


def test_dry_run_says_what_would_happen_and_changes_nothing(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    search = make_search(store, 0.4, "dry")
    state = str(store["state"])
    assert main(["--state-dir", state, "promote", search, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry: would be promoted — dry run: would register the model" in out
    assert "val/mse=0.4)" in out
    assert not store["client"].search_registered_models("name = 'dry'")
    assert main(["--state-dir", state, "promote", search]) == 0
    assert "dry version 1: promoted — champion -> v1" in capsys.readouterr().out
    worse = make_search(store, 0.7, "dry")
    assert main(["--state-dir", state, "promote", worse, "--dry-run"]) == 0
    assert "would not be promoted — val/mse=0.7 (val) does not beat champion v1" in (
        capsys.readouterr().out
    )
    assert main(["--state-dir", state, "promote", search, "--dry-run"]) == 0  # the holder's
    out = capsys.readouterr().out
    assert out.startswith("dry version 1: already champion: v1 is this trial's model"), out
    assert len(store["client"].search_model_versions("name = 'dry'")) == 1


def test_lock_sits_beside_a_local_store_only(tmp_path: Path) -> None:
    assert promote_lib._lock_path(f"sqlite:///{tmp_path}/m.db") == Path(
        f"{tmp_path}/m.db.promote.lock"
    )
    assert promote_lib._lock_path(str(tmp_path)) == tmp_path / ".promote.lock"
    assert promote_lib._lock_path(tmp_path.as_uri()) == tmp_path / ".promote.lock"
    assert promote_lib._lock_path("http://mlflow.internal:5000") is None
    assert promote_lib._lock_path("postgresql://u:p@db/mlflow") is None


def test_best_trial_without_a_model_promotes_no_other_trial(store: dict[str, Any]) -> None:
    """The search chose trial b (its best), whose model write failed: promotion refuses
    and says why; the runner-up, which has a model, is not promoted in its place."""
    client: MlflowClient = store["client"]
    name = make_search(store, 0.5, "nomodel")  # trial t-<name>: a model, value 0.5
    run = tracking.find_run(client, name, Kind.SEARCH)
    best = client.create_run(
        store["exp"],
        run_name="b",
        tags={"mlflow.parentRunId": run.info.run_id, f"{TAG}trial_id": "b"},
    )
    client.set_tag(best.info.run_id, f"{TAG}status", "completed")
    client.log_metric(best.info.run_id, METRIC, 0.1)  # better, but no model_uri tag
    client.set_tag(run.info.run_id, f"{TAG}best_trial", "b")  # what search.results chose
    result = tracking.promote(
        client, client.get_run(run.info.run_id), "nomodel", "champion", METRIC, "min"
    )
    assert not result.promoted and result.version is None
    assert "best trial b has no logged model" in result.reason
    assert not list(client.search_model_versions("name = 'nomodel'"))


def test_a_search_without_a_best_trial_tag_is_refused(store: dict[str, Any]) -> None:
    """A search recorded before search.results tagged its choice: nothing is ranked here."""
    client: MlflowClient = store["client"]
    run = tracking.find_run(client, make_search(store, 0.5, "untagged"), Kind.SEARCH)
    client.delete_tag(run.info.run_id, f"{TAG}best_trial")
    result = tracking.promote(
        client, client.get_run(run.info.run_id), "untagged", "champion", METRIC, "min"
    )
    assert not result.promoted and "recorded by an older adaptune" in result.reason
    assert not list(client.search_model_versions("name = 'untagged'"))
