"""The statistics behind every reported difference: a mean with its 95 % t-interval over
seeds, and the tests that say whether one arm or model beats another beyond the noise.

    s = summarize([0.021, 0.024, 0.022])          # Summary(mean, std, ci95, n)
    paired([0.80, 0.82, 0.81], [0.78, 0.80, 0.80])  # Comparison over the same seeds
    paired(*by_seed({1: 0.80, 2: 0.82}, {2: 0.80, 3: 0.79}))  # the seeds both ran
    welch(candidate_scores, incumbent_scores)      # two independent sets of seeds

scipy does the arithmetic; this module only fixes the conventions (sample std, two-sided
tests, alpha 0.05) so that every page and tag says the same thing. A difference without
spread (every seed the same) has no t statistic: an exact test on the signs (paired) or
ranks (Welch) gives its p, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ALPHA", "Comparison", "Summary", "by_seed", "paired", "summarize", "welch"]

ALPHA = 0.05  # two-sided: "significant" means p < 0.05


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float  # sample standard deviation (n - 1); nan for one value
    ci95: float  # half-width of the 95 % t-interval; nan for one value
    n: int

    def text(self, digits: int = 4) -> str:
        if self.n < 2:
            return f"{self.mean:.{digits}g} (1 seed, no interval)"
        return f"{self.mean:.{digits}g} ± {self.ci95:.2g} (95 % CI, {self.n} seeds)"


def summarize(values: Sequence[float]) -> Summary:
    """Mean, sample std and the 95 % t-interval's half-width of `values`."""
    from scipy import stats

    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("no values to summarize")
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return Summary(mean, math.nan, math.nan, 1)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = float(stats.t.ppf(1 - ALPHA / 2, len(xs) - 1)) * std / math.sqrt(len(xs))
    return Summary(mean, std, half, len(xs))


@dataclass(frozen=True)
class Comparison:
    diff: float  # mean of a - b
    p: float  # two-sided p-value; nan when it cannot be computed
    test: str  # which test gave p

    @property
    def significant(self) -> bool:
        return not math.isnan(self.p) and self.p < ALPHA

    def verdict(self, a: str, b: str) -> str:
        if math.isnan(self.p):
            return f"{a} vs {b}: not testable ({self.test})"
        if not self.significant:
            return f"{a} vs {b}: no significant difference (p = {self.p:.3g}, {self.test})"
        return f"{a} vs {b}: difference {self.diff:+.4g}, p = {self.p:.3g} ({self.test})"


def by_seed(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[list[float], list[float]]:
    """Two arms' scores (seed id -> score) on the seeds both ran, in seed order: paired by
    seed id, never by position, so a lost re-run drops its pair instead of shifting them."""
    shared = sorted(set(a) & set(b))
    return [a[s] for s in shared], [b[s] for s in shared]


def paired(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Paired t-test over the same seeds (a[i] and b[i] trained with seed i)."""
    from scipy import stats

    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    diffs = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / len(diffs) if diffs else math.nan
    if len(diffs) < 2:
        return Comparison(mean, math.nan, "needs at least 2 seeds")
    if _flat(diffs):  # no spread: no t; the signs alone (exact)
        p = 1.0 if _flat([*diffs, 0.0]) else float(stats.binomtest(len(diffs), len(diffs)).pvalue)
        return Comparison(mean, p, f"sign test over {len(diffs)} seeds, constant difference")
    p = float(stats.ttest_rel(a, b).pvalue)
    return Comparison(mean, p, f"paired t-test over {len(diffs)} seeds")


def welch(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Welch's t-test for two independent sets of seeded scores (unequal variances)."""
    from scipy import stats

    diff = (sum(a) / len(a) - sum(b) / len(b)) if a and b else math.nan
    if len(a) < 2 or len(b) < 2:
        return Comparison(diff, math.nan, "needs at least 2 seeds on each side")
    if _flat(a) and _flat(b):  # no spread: no t; the ranks alone (exact)
        p = 1.0 if _flat([*a, *b]) else float(stats.mannwhitneyu(a, b, method="exact").pvalue)
        return Comparison(diff, p, "Mann-Whitney U, no spread on either side")
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return Comparison(diff, p, f"Welch t-test, {len(a)} vs {len(b)} seeds")


def _flat(xs: Sequence[float]) -> bool:
    """No spread beyond float rounding (0.8 - 0.7 and 0.7 - 0.6 differ in the 17th digit)."""
    return max(xs) - min(xs) <= 1e-12 * max(1.0, *(abs(float(x)) for x in xs))
