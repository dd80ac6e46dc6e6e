"""The statistics behind every reported difference: a mean with its 95 % t-interval over
seeds, and the tests that say whether one arm or model beats another beyond the noise.

    s = summarize([0.021, 0.024, 0.022])          # Summary(mean, std, ci95, n)
    paired([0.80, 0.82, 0.81], [0.78, 0.80, 0.80])  # Comparison over the same seeds
    paired(*by_seed({1: 0.80, 2: 0.82}, {2: 0.80, 3: 0.79}))  # the seeds both ran
    welch(candidate_scores, incumbent_scores)      # two independent sets of seeds
    adjusted(comparisons, primary=0)               # Holm over all but the primary contrast

scipy does the arithmetic; this module only fixes the conventions (sample std, two-sided
tests, alpha 0.05) so that every page and tag says the same thing. A difference without
spread (every seed the same) has no t statistic: an exact test on the signs (paired) or
ranks (Welch) gives its p, never 0. A difference that is not significant is
"inconclusive at k seeds", with the difference k seeds would have detected (80 % power,
statsmodels); several contrasts in one job are Holm-adjusted (statsmodels), but the one
the job declared primary.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "ALPHA",
    "Comparison",
    "Summary",
    "adjusted",
    "by_seed",
    "paired",
    "prob_best",
    "summarize",
    "welch",
]

ALPHA = 0.05  # two-sided: "significant" means p < 0.05
POWER = 0.8  # the power at which a detectable difference is stated


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
    n: int = 0  # seeds (pairs, or the smaller side)
    detectable: float = math.nan  # |difference| found with POWER at this n and spread
    p_holm: float | None = None  # Holm-adjusted within its job (None: not adjusted)

    @property
    def significant(self) -> bool:
        p = self.p if self.p_holm is None else self.p_holm
        return not math.isnan(p) and p < ALPHA

    def verdict(self, a: str, b: str) -> str:
        if math.isnan(self.p):
            return f"{a} vs {b}: not testable ({self.test})"
        p = f"p = {self.p:.3g}" + ("" if self.p_holm is None else f", Holm {self.p_holm:.3g}")
        if self.significant:
            return f"{a} vs {b}: difference {self.diff:+.4g}, {p} ({self.test})"
        reach = (
            f"; {self.detectable:.2g} or more would show at {POWER * 100:.0f} % power"
            if math.isfinite(self.detectable)
            else ""
        )
        return (
            f"{a} vs {b}: inconclusive at {self.n} seeds (difference {self.diff:+.4g}, {p}"
            f"{reach}; {self.test})"
        )


def adjusted(comparisons: Sequence[Comparison], primary: int | None = None) -> list[Comparison]:
    """Holm's correction (statsmodels) over every testable comparison but the `primary`
    one (the contrast the job was run for, read at its own p); the others keep their raw p
    beside the adjusted one."""
    from statsmodels.stats.multitest import multipletests

    family = [i for i, c in enumerate(comparisons) if i != primary and not math.isnan(c.p)]
    out = list(comparisons)
    if family:
        holm = multipletests([comparisons[i].p for i in family], alpha=ALPHA, method="holm")[1]
        for i, q in zip(family, holm, strict=True):
            out[i] = dataclasses.replace(comparisons[i], p_holm=float(q))
    return out


def _detectable(sd: float, n: int, n2: int | None = None) -> float:
    """The smallest |difference| a two-sided test at ALPHA finds with POWER (statsmodels'
    t-test power): one sample of n paired differences, or two of n and n2 (`sd` pooled)."""
    from statsmodels.stats.power import TTestIndPower, TTestPower

    if not math.isfinite(sd) or sd <= 0:
        return math.nan
    if n2 is None:
        d = TTestPower().solve_power(nobs=n, alpha=ALPHA, power=POWER)
    else:
        d = TTestIndPower().solve_power(nobs1=n, ratio=n2 / n, alpha=ALPHA, power=POWER)
    return float(d) * sd


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
        test = f"sign test over {len(diffs)} seeds, constant difference"
        return Comparison(mean, p, test, len(diffs))
    p = float(stats.ttest_rel(a, b).pvalue)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    test = f"paired t-test over {len(diffs)} seeds"
    return Comparison(mean, p, test, len(diffs), _detectable(sd, len(diffs)))


def welch(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Welch's t-test for two independent sets of seeded scores (unequal variances)."""
    from scipy import stats

    diff = (sum(a) / len(a) - sum(b) / len(b)) if a and b else math.nan
    if len(a) < 2 or len(b) < 2:
        return Comparison(diff, math.nan, "needs at least 2 seeds on each side")
    if _flat(a) and _flat(b):  # no spread: no t; the ranks alone (exact)
        p = 1.0 if _flat([*a, *b]) else float(stats.mannwhitneyu(a, b, method="exact").pvalue)
        return Comparison(diff, p, "Mann-Whitney U, no spread on either side", min(len(a), len(b)))
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    pooled = math.sqrt(((len(a) - 1) * _var(a) + (len(b) - 1) * _var(b)) / (len(a) + len(b) - 2))
    test = f"Welch t-test, {len(a)} vs {len(b)} seeds"
    return Comparison(diff, p, test, min(len(a), len(b)), _detectable(pooled, len(a), len(b)))


def _var(xs: Sequence[float]) -> float:
    mean = sum(xs) / len(xs)
    return sum((float(x) - mean) ** 2 for x in xs) / (len(xs) - 1)


def _flat(xs: Sequence[float]) -> bool:
    """No spread beyond float rounding (0.8 - 0.7 and 0.7 - 0.6 differ in the 17th digit)."""
    return max(xs) - min(xs) <= 1e-12 * max(1.0, *(abs(float(x)) for x in xs))


def prob_best(samples: Sequence[Sequence[float]], *, maximize: bool, n: int = 4000) -> list[float]:
    """For each group of values (a config's val score per seed), how often its mean is
    the best when every group is resampled with replacement (a bootstrap over seeds,
    seeded: the same values give the same answer). Ties share the win."""
    import numpy as np

    rng = np.random.default_rng(0)
    means = np.stack(
        [rng.choice(np.asarray(xs, dtype=float), size=(n, len(xs))).mean(axis=1) for xs in samples]
    )
    best = means.max(axis=0) if maximize else means.min(axis=0)
    wins = (means == best).astype(float)
    return [float(w) for w in (wins / wins.sum(axis=0)).mean(axis=1)]
