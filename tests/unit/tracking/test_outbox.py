"""The MLflow outbox on a real SQLite MLflow store (no Ray): writes that fail with a
connection error are queued in order per run and caught up when MLflow answers again,
retries never write twice, and a server that never comes back ends the search normally
with a summary that lists what was not recorded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mlflow import MlflowClient
from tests.conftest import write

from adaptune import tracking
from adaptune.cli import main
from adaptune.driver import finish as search_finish
from adaptune.driver import run as search_run
from adaptune.driver.cost import Spend
from adaptune.driver.final import Reruns
from adaptune.driver.ledger import Ledger
from adaptune.driver.recorder import SearchRecorder
from adaptune.driver.results import SearchSummary, decide
from adaptune.tracking.outbox import Outbox, is_transient

WRITES = {"create_run", "log_batch", "set_tag", "set_terminated", "update_run", "log_artifacts"}


class Flaky:
    """A real MlflowClient behind a switch: while `down`, every call raises
    ConnectionError (as a stopped server's refused connection would); `lose_replies`
    makes the next writes succeed on the store and *then* raise (the reply was lost)."""

    def __init__(self, client: MlflowClient):
        self._client = client
        self.down = False
        self.lose_replies = 0
        self.refused = Counter[str]()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                self.refused[name] += 1
                raise ConnectionError("[Errno 111] Connection refused")
            out = attr(*args, **kwargs)
            if self.lose_replies and name in WRITES:
                self.lose_replies -= 1
                raise ConnectionError("Connection aborted: RemoteDisconnected")
            return out

        return call


@pytest.fixture(scope="module")
def _db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One store for the module (creating its tables takes seconds)."""
    state = tmp_path_factory.mktemp("outbox") / "state"
    return {"client": tracking.setup(tracking.resolve_uri(None, state)), "state": state}


@pytest.fixture
def store(_db: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """The module's store and an experiment of this test's own."""
    exp = tracking.ensure_experiment(_db["client"], request.node.name, _db["state"])
    return {**_db, "exp": exp}


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def test_queued_in_order_and_caught_up(store: dict[str, Any]) -> None:
    client: MlflowClient = store["client"]
    flaky = Flaky(client)
    box = Outbox(retry_every=0.0)

    def make() -> str:
        return str(flaky.create_run(store["exp"], run_name="t1").info.run_id)

    flaky.down = True  # down before the run exists: every write waits on its creation
    box.open_run("t1", "trial t1", create=make)
    box.write("t1", "params", lambda r: tracking.log_params(flaky, r, {"lr": 0.1}))
    for epoch in (1, 2, 3):
        batch = tracking.metric_batch({"loss": 1.0 / epoch}, epoch)
        box.write("t1", "metric write", lambda r, b=batch: flaky.log_batch(r, metrics=b))
    box.write("t1", "status tag", lambda r: flaky.set_tag(r, "adaptune.status", "completed"))
    box.write("t1", "run end", lambda r: flaky.set_terminated(r, "FINISHED"))
    assert box.run_id("t1") is None and box.pending == 7
    assert box.unrecorded() == [
        "trial t1: run creation, params, 3 metric writes, status tag, run end (MLflow unreachable)"
    ]
    assert not client.search_runs([store["exp"]])  # nothing reached the store

    flaky.down = False
    assert box.pump()
    run = client.get_run(str(box.run_id("t1")))
    assert _history(client, run.info.run_id, "loss") == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["adaptune.status"] == "completed" and run.info.status == "FINISHED"
    counts = box.counts()
    assert counts["queued"] == counts["caught_up"] == 7 and counts["lost"] == 0
    assert box.unrecorded() == []


def test_retry_after_a_lost_reply_writes_once(store: dict[str, Any]) -> None:
    """The write reached the store but its reply did not: the retry finds it there."""
    client: MlflowClient = store["client"]
    flaky = Flaky(client)
    cb = _callback(store, flaky)
    cb.box.retry_every = 0.0  # retry on every event, however soon
    flaky.lose_replies = 2  # the run's creation and its params
    cb.on_trial_start(0, [], _trial("a"))
    flaky.lose_replies = 1
    cb.on_trial_result(0, [], _trial("a"), {"epoch": 1, "epochs": 2, "val/mse": 0.5})
    cb.on_step_end(0, [])
    cb.on_trial_result(0, [], _trial("a"), {"epoch": 2, "epochs": 2, "val/mse": 0.4})
    assert cb.box.drain(5)
    runs = client.search_runs([store["exp"]], "tags.`adaptune.trial_id` = 'a'")
    run_id = cb.ledger.entry("a").run_id
    assert len(runs) == 1 and run_id == runs[0].info.run_id
    assert [s for s, _ in _history(client, str(run_id), "val/mse")] == [1, 2]


def test_refused_write_is_reported_not_retried(store: dict[str, Any]) -> None:
    client: MlflowClient = store["client"]
    box = Outbox(retry_every=0.0)
    run_id = client.create_run(store["exp"]).info.run_id
    box.adopt("r", run_id, "trial r")
    box.write("r", "params", lambda r: client.log_param(r, "lr", "0.1"))
    box.write("r", "params", lambda r: client.log_param(r, "lr", "0.2"))  # may not change
    box.write("r", "status tag", lambda r: client.set_tag(r, "adaptune.status", "completed"))
    assert box.pending == 0
    assert client.get_run(run_id).data.tags["adaptune.status"] == "completed"
    [line] = box.unrecorded()
    assert line.startswith("trial r: params (refused: MlflowException:")
    assert not is_transient(RuntimeError("x")) and is_transient(ConnectionError())


def test_server_never_back_search_still_succeeds(
    tmp_path: Path, store: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The server goes away after a trial's first epoch and never returns: the search
    ends normally (exit 0), promotion and report are skipped with a message, and the
    summary lists exactly what was not recorded."""
    client: MlflowClient = store["client"]
    flaky = Flaky(client)
    monkeypatch.setenv("ADAPTUNE_MLFLOW_CATCHUP_S", "0.5")
    write(tmp_path / "space.yaml", "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n")
    job = write(
        tmp_path / "job.yaml",
        "name: outage\nmethod: dao\ndata: {source: synthetic-finsent, n_train: 64}\n"
        "fixed: {epochs: 2}\n"
        "search: {space: space.yaml, num_samples: 2, scheduler: {type: fifo}}\n"
        "promote: {model_name: outage-dao}\n",
    )

    def fake_search(plan: Any, state_dir: Path, **kwargs: Any) -> SearchSummary:
        """run_search with Tune's events played by hand; everything after fit() is real."""
        parent = client.create_run(store["exp"], run_name="outage-1").info.run_id
        box, ledger = Outbox(), Ledger()
        cb = SearchRecorder(plan, flaky, store["exp"], parent, "outage-1", box=box, ledger=ledger)
        a, b = _trial("a", epochs=2), _trial("b", epochs=2)
        cb.on_trial_start(0, [], a)
        cb.on_trial_result(0, [], a, a.last_result | {"epoch": 1})
        flaky.down = True  # the tracking server stops here, for good
        cb.on_trial_start(0, [], b)
        cb.on_trial_result(0, [], a, a.last_result)
        cb.on_trial_result(0, [], b, b.last_result | {"epoch": 1})
        cb.on_step_end(0, [])
        cb.on_trial_result(0, [], b, b.last_result)
        for t in (a, b):
            cb.on_trial_complete(0, [], t)
        decision = decide(ledger, plan)
        assert (decision.completed, decision.best_trial, decision.best_value) == (2, "a", 0.25)
        return search_finish.finish(
            plan,
            flaky,
            cb,
            box,
            ledger,
            decision,
            Spend(),
            Reruns(),
            search="outage-1",
            parent_run_id=parent,
            tracking_uri=client.tracking_uri,
            wall_s=1.0,
            state_dir=state_dir,
        )

    monkeypatch.setattr(search_run, "run_search", fake_search)
    out = tmp_path / "s.json"
    assert main(["--state-dir", str(store["state"]), "search", str(job), "--json", str(out)]) == 0
    printed = capsys.readouterr()
    summary = json.loads(out.read_text())
    assert summary["unrecorded"] == [
        "search run: search metrics, best_trial tag, note, run end (MLflow unreachable)",
        "trial a: metric write, status tag, run name, run end, best name (MLflow unreachable)",
        "trial b: run creation, params, 2 metric writes, node_id tag, status tag, run name,"
        " run end (MLflow unreachable)",
        "search run: report (MLflow unreachable; `adaptune --state-dir "
        f"{store['state']} report outage-1` builds it later)",
    ]
    assert summary["mlflow_writes"]["lost"] == 17 and summary["mlflow_writes"]["caught_up"] == 0
    promotion = summary["promotion"]
    assert not promotion["promoted"] and promotion["reason"].startswith("skipped: MLflow")
    assert "not recorded in MLflow (4 runs):" in printed.out
    assert "trial b: run creation, params" in printed.out and "no report" in printed.err
    # what did get through before the outage is there
    [run] = client.search_runs([store["exp"]], "tags.`adaptune.trial_id` = 'a'")
    assert [s for s, _ in _history(client, run.info.run_id, "val/mse")] == [1]
    assert run.info.status == "RUNNING"


def _trial(trial_id: str, epochs: int = 2) -> Any:
    result = {"epoch": epochs, "epochs": epochs, "val/mse": 0.25, "node_id": "n1"}
    return SimpleNamespace(
        trial_id=trial_id, config={"lr": 1e-4}, last_result=result, error_file=None
    )


def _callback(store: dict[str, Any], client: Any) -> SearchRecorder:
    from adaptune.job.spec import load_job
    from adaptune.plan import make_plans

    root = store["state"].parent
    write(root / "space.yaml", "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n")
    job = write(
        root / "job.yaml",
        "name: cb\nmethod: dao\ndata: {source: synthetic-finsent, n_train: 64}\n"
        "search: {space: space.yaml, scheduler: {type: fifo}}\n",
    )
    [plan] = make_plans(load_job(str(job), {}))
    parent = store["client"].create_run(store["exp"], run_name="search").info.run_id
    return SearchRecorder(plan, client, store["exp"], parent, "search")
