"""The report's rung plot follows whichever scheduler ran: HyperBand's brackets, the
median rule's epochs, ASHA's rungs (tests/unit/report/test_report_tables.py)."""

from __future__ import annotations

import pytest

from adaptune.report.data import Search
from adaptune.report.tables import milestones


def search(scheduler: str, max_t: int, rf: float = 3.0, grace: float = 1.0) -> Search:
    return Search(
        run_id="r",
        name="s",
        metric="val/mse",
        mode="min",
        start_ms=0,
        scheduler=scheduler,
        grace_period=grace,
        reduction_factor=rf,
        max_t=max_t,
        per_trial={"CPU": 1.0},
        space={},
    )


@pytest.mark.parametrize(("max_t", "rf"), [(2, 2), (3, 3), (4, 2), (9, 3), (81, 3), (10, 3)])
def test_hyperband_rungs_are_every_brackets_milestones(max_t: int, rf: float) -> None:
    from ray.tune.schedulers import HyperBandScheduler

    hb = HyperBandScheduler(time_attr="epoch", metric="m", mode="min", max_t=max_t,
                            reduction_factor=rf)  # fmt: skip
    expected = {max_t}
    for s in range(hb._s_max_1):
        bracket = hb._create_bracket(s)
        r = bracket._r
        while 0 < r < max_t:  # Ray's _Bracket.successive_halving: r *= eta, capped
            expected.add(r)
            r = int(min(r * rf, max_t))
    assert milestones(search("hyperband", max_t, rf)) == sorted(expected)


def test_median_stopping_compares_every_epoch_from_its_grace_period() -> None:
    assert milestones(search("median", 5, grace=2)) == [2, 3, 4, 5]
    assert milestones(search("median", 3, grace=1)) == [1, 2, 3]
