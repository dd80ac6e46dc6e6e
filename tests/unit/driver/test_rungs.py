"""The driver's replay of ASHA's rungs stops exactly the trials Ray's own bracket stops,
and names the cutoff each stopped trial missed."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from ray.tune.schedulers import TrialScheduler
from ray.tune.schedulers.async_hyperband import _Bracket

from adaptune.driver.rungs import AshaRungs


@pytest.mark.parametrize(("grace", "rf", "max_t", "mode"), [(1, 2, 4, "min"), (1, 3, 9, "max")])
def test_replay_stops_the_trials_rays_bracket_stops(
    grace: int, rf: int, max_t: int, mode: str
) -> None:
    rng = random.Random(0)
    bracket = _Bracket(grace, max_t, rf, 0)
    rungs = AshaRungs(grace, max_t, rf, mode)
    sign = -1 if mode == "min" else 1
    live = {f"t{i}": 0 for i in range(24)}
    decisions = 0
    while live:
        trial_id = rng.choice(sorted(live))
        live[trial_id] += 1
        epoch, value = live[trial_id], rng.random()
        if epoch >= max_t:  # ASHA completes it without recording
            del live[trial_id]
            assert rungs.on_result(trial_id, epoch, value) is None
            continue
        ray_stops = bracket.on_result(SimpleNamespace(trial_id=trial_id), epoch, sign * value)
        cut = rungs.on_result(trial_id, epoch, value)
        if ray_stops == TrialScheduler.STOP:
            del live[trial_id]
            assert cut is not None and not cut.passed and cut.cutoff is not None
            assert (value > cut.cutoff) if mode == "min" else (value < cut.cutoff)
            decisions += 1
        else:
            assert cut is None or cut.passed
    assert decisions > 0


def test_cut_text_names_metric_value_rung_and_cutoff() -> None:
    rungs = AshaRungs(1, 4, 2, "min")
    assert rungs.on_result("a", 1, 0.1) is not None
    first = rungs.cuts["a"]
    assert first.cutoff is None and "first at rung 1" in first.text("val/mse")
    cut = rungs.on_result("b", 1, 0.3)
    assert cut is not None and not cut.passed
    assert cut.text("val/mse") == ("val/mse 0.3 vs rung-1 cutoff 0.1 (epoch 1, lower is better)")
