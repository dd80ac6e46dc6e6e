"""Report numbers on synthetic trials: the trials table, ASHA rungs, best-so-far,
importances and the self-contained page (no Ray, no MLflow)."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from adaptune.job.space import parse_value
from adaptune.report.data import Point, Search, Trial, status_of
from adaptune.report.html import image, page, table
from adaptune.report.importance import MIN_TRIALS, importances
from adaptune.report.tables import (
    best_so_far,
    milestones,
    rung_rows,
    summary_rows,
    trial_rows,
    write_csv,
)

SPACE = {
    "lr": FloatDistribution(1e-5, 1e-2, log=True),
    "rank": CategoricalDistribution([4, 8]),
    "layers": IntDistribution(1, 3),
}


def trial(
    tid: str,
    values: list[float],
    status: str = "completed",
    t0: int = 0,
    lr: float = 1e-3,
    rank: int = 4,
    layers: int = 2,
) -> Trial:
    history = [Point(e, v, t0 + 1000 * e) for e, v in enumerate(values, start=1)]
    return Trial(
        trial_id=tid,
        run_id=f"run-{tid}",
        status=status,
        status_text=status if status != "stopped" else f"stopped by ASHA at epoch {len(values)}",
        params={"lr": repr(lr), "rank": str(rank), "layers": str(layers), "epochs": "3"},
        history=history,
        epochs_run=len(values),
        wall_s=36.0 * len(values),
        train_s=2.0 * len(values),
        start_ms=t0,
    )


def search(trials: list[Trial], mode: str = "min", **kw: object) -> Search:
    base = dict(
        run_id="parent",
        name="s",
        metric="val/mse",
        mode=mode,
        start_ms=0,
        scheduler="asha",
        grace_period=1.0,
        reduction_factor=3.0,
        max_t=3,
        per_trial={"CPU": 2.0},
        space=dict(SPACE),
        trials=trials,
    )
    base.update(kw)
    return Search(**base)  # type: ignore[arg-type]


def test_status_tag_becomes_one_word() -> None:
    assert status_of("completed") == "completed"
    assert status_of("stopped by ASHA at epoch 2") == "stopped"
    assert status_of("errored") == "errored"
    assert status_of(None) == status_of("running") == "running"


def test_param_strings_parse_back_to_the_distributions_type() -> None:
    assert parse_value("0.001", SPACE["lr"]) == 0.001
    assert parse_value("8", SPACE["rank"]) == 8  # the choice itself, not the string
    assert parse_value("3", SPACE["layers"]) == 3
    assert parse_value("16", SPACE["rank"]) is None


def test_trials_table_has_one_row_per_trial_with_outcome_metric_and_compute() -> None:
    s = search([trial("a", [0.5, 0.3, 0.4]), trial("b", [0.6], "stopped", rank=8)])
    rows = trial_rows(s)
    assert [r["trial_id"] for r in rows] == ["a", "b"]
    a, b = rows
    assert (a["final_value"], a["best_value"], a["best_epoch"]) == (0.4, 0.3, 2)
    assert a["status"] == "completed" and a["epochs_run"] == 3
    assert a["cpu_hours"] == pytest.approx(3 * 36.0 * 2.0 / 3600)
    assert b["status"] == "stopped" and b["status_detail"] == "stopped by ASHA at epoch 1"
    assert b["rank"] == 8 and isinstance(b["lr"], float) and b["epochs"] == "3"  # full config


def test_summary_rows_put_the_chosen_trial_first_then_completed_then_the_rest() -> None:
    """Best first on what chooses (the last epoch's value, here higher is better): the
    decided trial leads even when another scored higher (a constraint, a Pareto pick)."""
    trials = [
        trial("stop", [0.9], "stopped"),  # higher than any, but stopped: cannot be chosen
        trial("peak", [0.8, 0.5]),  # its best epoch beat "late"; its last did not
        trial("late", [0.4, 0.7]),
        trial("top", [0.6, 0.75]),
        trial("none", [], "errored"),
    ]
    trials[2].test = {"test/mse": 0.61}
    s = search(trials, mode="max", tags={"adaptune.best_trial": "late"})
    rows = summary_rows(s)
    assert [r["trial_id"] for r in rows] == ["late", "top", "peak", "stop", "none"]
    late = rows[0]
    assert (late["last_val/mse"], late["best_val/mse"], late["test/mse"]) == (0.7, 0.7, 0.61)
    assert "test/mse" not in rows[1] and rows[3]["stop_epoch"] == 1 and late["stop_epoch"] is None
    assert isinstance(late["lr"], float) and late["rank"] == 4


def test_csv_holds_every_column_any_row_has(tmp_path: Path) -> None:
    write_csv([{"a": 1}, {"a": 2, "b": "x"}], tmp_path / "t.csv")
    with open(tmp_path / "t.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"a": "1", "b": ""}, {"a": "2", "b": "x"}]


@pytest.mark.parametrize(
    ("grace", "rf", "max_t"), [(1, 3, 3), (1, 2, 4), (2, 2, 9), (1, 3, 10), (1, 1.5, 5)]
)
def test_rungs_are_rays_asha_milestones_then_max_t(grace: int, rf: float, max_t: int) -> None:
    from ray.tune.schedulers.async_hyperband import _Bracket

    ray_rungs = {math.ceil(m - 1e-9) for m, _ in _Bracket(grace, max_t, rf, 0)._rungs}
    s = search([], grace_period=float(grace), reduction_factor=float(rf), max_t=max_t)
    assert milestones(s) == sorted(ray_rungs | {max_t})


def test_fifo_has_a_single_rung_at_max_t() -> None:
    assert milestones(search([], scheduler="fifo", max_t=5)) == [5]


def test_rung_counts_who_reached_was_stopped_and_went_on() -> None:
    trials = [
        trial("a", [0.5, 0.4, 0.3]),
        trial("b", [0.6], "stopped"),
        trial("c", [0.7], "stopped"),
        trial("d", [0.5, 0.5], "errored"),
    ]
    rows = rung_rows(trials, [1, 3])
    assert rows[0] == {
        "epoch": 1,
        "reached": 4,
        "stopped_here": 2,
        "errored_here": 1,
        "completed_here": 0,
        "went_on": 1,
        "stopped_trials": "b c",
    }
    assert rows[1]["reached"] == 1 and rows[1]["completed_here"] == 1


def test_best_so_far_follows_log_time_and_counts_trial_epochs() -> None:
    # a logs at 1 s, 2 s, 3 s; b starts at 500 ms: 1.5 s, 2.5 s
    trials = [trial("a", [0.5, 0.45, 0.2]), trial("b", [0.4, 0.6], "stopped", t0=500)]
    curve = best_so_far(trials, "min", start_ms=0)
    assert [r["trial_id"] for r in curve] == ["a", "b", "a", "b", "a"]
    assert [r["trial_epochs"] for r in curve] == [1, 2, 3, 4, 5]
    assert [r["wall_s"] for r in curve] == [1.0, 1.5, 2.0, 2.5, 3.0]
    assert [r["best"] for r in curve] == [0.5, 0.4, 0.4, 0.4, 0.2]
    assert [r["best"] for r in best_so_far(trials, "max", 0)] == [0.5, 0.5, 0.5, 0.6, 0.6]


def test_importance_finds_the_parameter_that_drives_the_objective() -> None:
    import random

    rng = random.Random(0)
    trials = []
    for i in range(16):
        lr, rank, layers = 10 ** rng.uniform(-5, -2), rng.choice([4, 8]), rng.randint(1, 3)
        value = (math.log10(lr) + 3.5) ** 2 + 0.01 * rng.random()  # lr alone matters
        status = "completed" if i % 4 == 0 else "stopped"
        values = [value] if status == "stopped" else [value, value, value]
        trials.append(trial(f"t{i}", values, status, lr=lr, rank=rank, layers=layers))
    imp = importances(search(trials), [1, 3])
    assert imp.epoch == 1 and imp.n_trials == 16  # only 4 completed: the first rung is used
    assert max(imp.values, key=imp.values.__getitem__) == "lr"
    assert imp.values["lr"] > 0.5 and sum(imp.values.values()) == pytest.approx(1.0)


def test_importance_uses_the_final_epoch_when_enough_trials_completed() -> None:
    trials = [trial(f"t{i}", [1.0, 0.5, 0.1 * i], lr=10 ** (-5 + i / 3)) for i in range(6)]
    imp = importances(search(trials), [1, 3])
    assert imp.epoch == 3 and imp.n_trials == 6 and imp.values


def test_importance_falls_back_with_a_note() -> None:
    few = [trial(f"t{i}", [0.1 * i]) for i in range(MIN_TRIALS - 1)]
    imp = importances(search(few), [1, 3])
    assert not imp.values and "Too few trials" in imp.note
    one = importances(search(few, space={"lr": SPACE["lr"]}), [1, 3])
    assert not one.values and "Only one parameter (lr)" in one.note


def test_page_is_one_file_with_embedded_images_and_escaped_tables(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([0, 1])
    fig.savefig(tmp_path / "p.png")
    text = page("t <1>", [image(tmp_path / "p.png"), table([{"name": "<b>", "v": 0.123456789}])])
    assert re.search(r'src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', text)
    assert "&lt;b&gt;" in text and "0.12346" in text and "<title>t &lt;1&gt;</title>" in text
    assert "http" not in text.replace("https://", "")  # nothing fetched from anywhere
