"""The statistics behind every verdict (adaptune/stats.py), checked against scipy: the
95 % t-interval, the paired and Welch tests, differences without spread (no t statistic:
an exact test's p, never 0), Holm's step-down correction written out by hand, and the
detectable difference of an inconclusive verdict (the noncentral t's power at it)."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sp

from adaptune.stats import ALPHA, POWER, adjusted, paired, prob_best, summarize, welch

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


def test_holm_adjusts_every_contrast_but_the_primary() -> None:
    diffs = ([0.3, 0.5, 0.4], [0.01, 0.03, -0.01], [0.2, 0.21, 0.25], [0.1, -0.1, 0.05])
    cs = [paired(d, [0.0] * 3) for d in diffs]
    out = adjusted(cs, primary=0)
    assert out[0].p_holm is None and out[0].p == cs[0].p  # read at its own p
    # Holm by hand: sort the family's p, multiply the i-th smallest by (m - i), keep the
    # running maximum, cap at 1
    family = sorted(range(1, 4), key=lambda i: cs[i].p)
    running = 0.0
    for rank, i in enumerate(family):
        running = max(running, min(1.0, (3 - rank) * cs[i].p))
        assert out[i].p_holm == pytest.approx(running)
    assert all(o.p == c.p for o, c in zip(out, cs, strict=True))  # the raw p is kept
    assert "Holm" in out[1].verdict("a", "b") and "Holm" not in out[0].verdict("a", "b")


def test_a_difference_significant_alone_can_be_inconclusive_after_holm() -> None:
    cs = [paired([0.11, 0.14, 0.13, 0.12], [0.1, 0.1, 0.11, 0.1])] * 4  # p = 0.037
    assert cs[0].significant
    out = adjusted(cs)
    assert all(not c.significant for c in out)
    assert "inconclusive at 4 seeds" in out[0].verdict("a", "b")


def test_untestable_comparisons_are_left_out_of_the_family() -> None:
    one = paired([0.5], [0.4])  # one seed: no p
    two = paired(A, B)
    out = adjusted([one, two])
    assert out[0].p_holm is None and out[1].p_holm == pytest.approx(two.p)


def test_the_detectable_difference_is_found_with_the_stated_power() -> None:
    c = paired(A, B)
    diffs = [a - b for a, b in zip(A, B, strict=True)]
    n, sd = len(diffs), sp.tstd(diffs)
    # power of the two-sided paired t-test at that difference: the noncentral t's mass
    # beyond the critical values
    crit = sp.t.ppf(1 - ALPHA / 2, n - 1)
    nc = c.detectable / (sd / math.sqrt(n))
    power = sp.nct.sf(crit, n - 1, nc) + sp.nct.cdf(-crit, n - 1, nc)
    assert power == pytest.approx(POWER, abs=1e-4)
    assert not c.significant and f"{c.detectable:.2g} or more" in c.verdict("a", "b")
    assert math.isfinite(welch(A, B).detectable)


def test_prob_best_is_a_seeded_bootstrap_over_seeds() -> None:
    """The probability each config's mean is the best when its seeds are resampled: a
    clear winner near 1, equal configs share it, and it sums to 1."""
    clear = prob_best([[0.10, 0.11, 0.12], [0.30, 0.31, 0.29]], maximize=False)
    assert clear[0] > 0.99 and sum(clear) == pytest.approx(1.0)
    same = prob_best([[0.5, 0.5], [0.5, 0.5]], maximize=True)
    assert same == pytest.approx([0.5, 0.5])
    close = prob_best([[0.80, 0.70, 0.90], [0.79, 0.71, 0.88]], maximize=True)
    assert 0.2 < close[1] < close[0] < 0.8  # overlapping seeds: neither is sure
    assert close == prob_best([[0.80, 0.70, 0.90], [0.79, 0.71, 0.88]], maximize=True)
