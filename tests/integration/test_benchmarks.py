"""Each benchmark script runs with tiny arguments and prints the JSON the README's tables
are built from. A smoke test only: no figure is checked against a goal, nothing is timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _run(script: str, *args: str, cwd: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["benchmark"] == script.removesuffix(".py")
    assert {"date", "cpus", "ray", "optuna", "torch"} <= set(out)
    return out


def test_searcher_scale_reports_each_sampler_at_each_size(tmp_path: Path) -> None:
    out = _run("searcher_scale.py", "--at", "3", "12", "--window", "2", cwd=tmp_path)
    for sampler in ("tpe", "random"):
        for n in ("3", "12"):
            figures = out["results"][sampler][n]
            assert figures["suggest_ms"]["n"] == 2 and figures["suggest_ms"]["median"] >= 0
            assert figures["decision_ms"]["n"] >= 1
    assert isinstance(out["meets_goal"], bool)


def _curve(values: list[float]) -> dict[str, Any]:
    return {"values": values, "epoch_s": [1.0] * len(values)}


def test_search_efficiency_replays_a_recorded_grid(tmp_path: Path) -> None:
    curves = {
        "dao": {
            "settings": {},
            "curves": [
                {"config": {"lora_rank": 4, "lr": lr, "w_c": 0.25}, **_curve(v)}
                for lr, v in ((1e-4, [0.3, 0.2, 0.1]), (3e-4, [0.2, 0.15, 0.12]))
            ],
        },
        "dama": {
            "settings": {"stage_epochs": [2, 1]},
            "curves": [
                {"config": {"gamma": g, "bound": b}, **_curve([0.5, 0.6 + g, 0.6 + g + b / 1e4])}
                for g in (0.0, 0.1)
                for b in (100.0, 500.0)
            ],
        },
    }
    path = tmp_path / "curves.json"
    path.write_text(json.dumps(curves))
    png = tmp_path / "plot.png"
    out = _run(
        "search_efficiency.py", "--seeds", "2", "--curves", str(path), "--plot", str(png),
        cwd=tmp_path,
    )  # fmt: skip
    assert png.stat().st_size > 0
    dao, dama = out["results"]["dao"], out["results"]["dama"]
    assert dao["grid_best"] == pytest.approx(0.1) and dao["grid"]["trial_epochs"] == 6
    assert dama["grid_best"] == pytest.approx(0.75) and dama["two_stage_grid"]["gamma"] == 0.1
    for r in (dao, dama):
        assert {"tpe+asha", "random+asha", "random"} <= set(r["strategies"])
        for s in r["strategies"].values():
            assert s["seeds"] == 2 and 0 <= s["reached"] <= 2


def test_trial_overhead_measures_both_loops(tmp_path: Path) -> None:
    out = _run(
        "trial_overhead.py", "--trials", "2", "--epochs", "1", "--n-train", "24", cwd=tmp_path
    )
    optuna, ours = out["results"]["optuna"][0], out["results"]["adaptune"][0]
    assert optuna["trials"] == ours["trials"] == 2
    assert optuna["median_overhead_s"] is not None
    assert ours["median_overhead_run_s"] is not None and len(ours["overhead_cycle_s"]) == 2


def test_search_fixed_cost_breaks_a_search_down_beside_the_plain_loop(tmp_path: Path) -> None:
    out = _run(
        "search_fixed_cost.py",
        *("--runs", "1", "--cli-runs", "1", "--n-train", "24", "--max-len", "16"),
        *("--fresh-only",),
        cwd=tmp_path,
    )
    results = out["results"]
    assert set(results["cli"]) == {"methods", "validate"}
    ours, plain = results["adaptune"], results["optuna"]
    total = ours["to_first_trial_s"] + ours["after_last_trial_s"]
    assert ours["fixed_s"] == pytest.approx(total, abs=0.015)  # each rounded to 0.01 s
    for phase in ("startup", "ray_start", "mlflow_store", "data", "report", "summary_and_exit"):
        assert phase in ours["phases"]
    assert plain["fixed_s"] > 0 and plain["first_trial_setup_s"] > 0
    assert len(out["load_average"]["before"]) == 3
