"""The statistics behind every verdict (adaptune/stats.py), checked against scipy: the
95 % t-interval, the paired and Welch tests, and differences without spread, which have
no t statistic and get an exact test's p, never 0."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sp

from adaptune.stats import paired, summarize, welch

A = [0.81, 0.84, 0.79, 0.86]
B = [0.78, 0.80, 0.79, 0.81]


def test_summary_is_the_mean_with_the_t_interval_half_width() -> None:
    s = summarize(A)
    low, high = sp.t.interval(0.95, len(A) - 1, loc=sp.tmean(A), scale=sp.sem(A))
    assert s.mean == pytest.approx(sum(A) / 4) and s.std == pytest.approx(sp.tstd(A))
    assert s.ci95 == pytest.approx((high - low) / 2)
    one = summarize([0.5])
    assert one.n == 1 and math.isnan(one.ci95) and "no interval" in one.text()
    with pytest.raises(ValueError):
        summarize([])


def test_paired_and_welch_give_scipy_s_p_values() -> None:
    assert paired(A, B).p == pytest.approx(sp.ttest_rel(A, B).pvalue)
    assert paired(A, B).diff == pytest.approx(sum(A) / 4 - sum(B) / 4)
    assert welch(A, B).p == pytest.approx(sp.ttest_ind(A, B, equal_var=False).pvalue)
    with pytest.raises(ValueError):
        paired(A, B[:3])
    assert math.isnan(paired([0.5], [0.4]).p) and math.isnan(welch([0.5], B).p)


def test_a_constant_difference_gets_the_sign_test_not_a_p_of_zero() -> None:
    same_gap = paired([0.8, 0.7, 0.9, 0.6], [0.7, 0.6, 0.8, 0.5])  # +0.1 on every seed
    assert same_gap.p == pytest.approx(2 * 0.5**4) and "sign test" in same_gap.test
    assert not same_gap.significant  # 4 seeds cannot show p < 0.05 this way
    assert paired([0.5, 0.6], [0.5, 0.6]).p == 1.0


def test_welch_without_spread_gets_the_exact_rank_test() -> None:
    apart = welch([0.9, 0.9, 0.9], [0.8, 0.8, 0.8])
    assert apart.p == pytest.approx(sp.mannwhitneyu([0.9] * 3, [0.8] * 3, method="exact").pvalue)
    assert apart.p == pytest.approx(0.1) and "Mann-Whitney" in apart.test
    assert welch([0.5, 0.5], [0.5, 0.5]).p == 1.0
