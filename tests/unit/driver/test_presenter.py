"""How trials read in MLflow's UI and on the console: names that carry the outcome,
rounded searched values, no Ray bookkeeping, Markdown notes, progress and ETA."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from adaptune.driver import console
from adaptune.driver.console import Progress
from adaptune.driver.presenter import (
    run_name,
    search_note,
    searched_params,
    trial_metrics,
    trial_note,
)
from adaptune.driver.rungs import AshaRungs
from adaptune.tracking.names import Status


def test_run_names_lead_with_the_outcome() -> None:
    assert run_name("ab12", Status.STOPPED, epoch=1) == "stopped@1 ab12"
    assert run_name("ab12", Status.COMPLETED, epoch=3) == "completed ab12"
    assert run_name("ab12", Status.ERRORED) == "errored ab12"
    assert run_name("ab12", Status.COMPLETED, best=True) == "★ best ab12"


def test_ray_bookkeeping_is_not_a_metric_but_the_wall_time_stays() -> None:
    result = {
        "val/mse": 0.2,
        "epoch": 2,
        "pid": 4242,
        "timestamp": 1,
        "time_total_s": 12.5,
        "time_this_iter_s": 6.0,
        "training_iteration": 2,
        "hostname": "h",
        "node_ip": "127.0.0.1",
        "done": False,
        "date": "2026",
    }
    assert trial_metrics(result) == {"val/mse": 0.2, "epoch": 2, "wall_s": 12.5}


def test_searched_values_get_rounded_copies_under_search() -> None:
    config = {"lr": 0.000566140152835, "lora_rank": 16, "epochs": 3}
    assert searched_params(config, ["lr", "lora_rank"]) == {
        "search/lr": "0.0005661",
        "search/lora_rank": "16",
    }


def test_a_stopped_trials_note_sets_its_value_against_the_cutoff() -> None:
    rungs = AshaRungs(1, 3, 3, "min")
    rungs.on_result("a", 1, 0.10)
    rungs.on_result("b", 1, 0.12)
    cut = rungs.on_result("c", 1, 0.2174)
    assert cut is not None and not cut.passed
    note = trial_note(
        "c",
        Status.STOPPED,
        "stopped by ASHA at epoch 1",
        metric="val/mse",
        history={1: 0.2174},
        searched={"lr": 0.001},
        search="s-1",
        mode="min",
        cut=cut,
    )
    assert note.startswith("**stopped by ASHA at epoch 1**")
    assert "val/mse 0.2174 vs rung-1 cutoff 0.1067" in note
    assert "| lr | 0.001 |" in note


def test_the_search_note_gives_best_savings_champion_and_report() -> None:
    summary = SimpleNamespace(
        search="s-1",
        trials=6,
        completed=3,
        stopped={"a": 1, "b": 1, "c": 1},
        errored=[],
        wall_s=60.0,
        metric="val/mse",
        mode="min",
        best_trial="d",
        best_value=0.0789,
        best_run_id="r123",
        best_params={"lr": 0.000566},
        resource_hours={"CPU": 0.017},
        saved_hours={"CPU": 0.012},
        cost_usd=0.000816,
        usd_saved=0.000576,
        node_usd={"local": 0.000816},
        promotion=SimpleNamespace(
            model_name="tiny", version="1", promoted=True, reason="champion -> v1"
        ),
        tracking_uri="sqlite:////a b/mlflow.db",
    )
    note = search_note(summary, method="dao", scheduler="ASHA", experiment_id="7", report="/r.html")
    assert "**Best trial d**: val/mse = 0.0789 (min) ([its run](#/experiments/7/runs/r123?" in note
    assert "saved 0.012 (41% of running every trial to the end)" in note
    assert "Cost $0.0008 (local); saved by early stopping $0.0006." in note
    serve = "MLFLOW_TRACKING_URI='sqlite:////a b/mlflow.db' mlflow models serve -m models:/tiny@"
    assert serve in note  # the store named: copied into any folder, it finds the champion
    assert "`/r.html`" in note


def test_progress_counts_and_eta() -> None:
    p = Progress(total=8, max_t=4, metric="val/mse")
    p.epochs.update({"a": 1, "b": 4, "c": 2})
    p.ended.update({"a": "stopped", "b": "completed"})
    assert p.counts() == {
        "done": 2,
        "completed": 1,
        "stopped": 1,
        "errored": 0,
        "running": 1,
        "pending": 5,
    }
    # 7 trial-epochs in 70 s; finished trials ran 2.5 epochs on average: c has 0.5 to go,
    # the 5 pending 12.5 -> 13 trial-epochs at 10 s each
    assert p.eta_s(70.0) == 130.0
    assert "2/8 done (1 completed, 1 stopped), 1 running, 5 pending" in p.line(70.0)
    assert "ETA ~2:10" in p.line(70.0)


def test_eta_of_reruns_counts_from_their_own_start() -> None:
    # seeded re-runs begin 600 s into the search: their rate is 10 s a trial-epoch, not 610
    p = Progress(total=4, max_t=2, metric="val/mse", started_s=600.0)
    p.epochs.update({"a": 1})
    p.reported_s = 610.0
    assert p.eta_s(610.0) == 70.0  # a: 1 epoch to go, 3 pending seeds: 2 each


def test_events_are_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    con = console.configure(quiet=True, events=str(path), live=False)
    try:
        con.emit("trial_finished", trial="ab12", status="stopped", cutoff=0.16)
        con.say("not printed: quiet")
    finally:
        con.close()
    (event,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert event["event"] == "trial_finished" and event["cutoff"] == 0.16
    assert {"time", "elapsed_s", "trial", "status"} <= set(event)


def test_the_live_line_stays_under_everything_printed() -> None:
    import io

    from adaptune.driver.console import _Live

    screen = io.StringIO()
    live = _Live(screen)
    live.show("1/8 done")
    print("[00:03] ab12 started", file=live)  # print writes the text, then "\n"
    live.show("2/8 done")
    live.write("[00:05] ab12 epoch 1/3\n")
    live.clear()
    # a print erases the status line, writes its line whole, and puts the status under it
    assert screen.getvalue() == (
        "\r\033[K1/8 done"
        + "\r\033[K[00:03] ab12 started"
        + "\n1/8 done"
        + "\r\033[K2/8 done"
        + "\r\033[K[00:05] ab12 epoch 1/3\n2/8 done"
        + "\r\033[K"
    )


def test_the_live_line_fits_one_screen_row() -> None:
    import io

    from adaptune.driver.console import _Live

    screen = io.StringIO()  # no terminal: 100 columns assumed
    _Live(screen).show("x" * 300)
    assert screen.getvalue() == "\r\033[K" + "x" * 99
