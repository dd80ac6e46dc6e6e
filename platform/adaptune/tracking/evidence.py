"""What a candidate for the champion alias brings, and whether it is enough to take it.

    ev = gather(search_run, best_run, "val/mse")     # re-runs' mean val, else the trial's val
    reason = judge(ev, holder, "champion", "val/mse", "min", rule="significant")  # None: ok

The alias moves on the validation objective, never on test: the seeded re-runs' mean
val when the search had ``final.seeds``, else the chosen trial's own val value. The
version's tags say which is which: ``adaptune.val.<metric>`` the val scores it was
selected on, ``adaptune.test.<metric>`` the held-out test scores (reported, never
compared), ``adaptune.value`` what the alias compares (``value_kind``), so no number that
moved the alias is biased by having been read to move it, and a search on the same data
does not spend the test split again. Scores on different data (fingerprints), or held
by a version promoted on test scores (before promotion moved to val), are not compared.
``significant`` also asks Welch's t-test over the two sets of seeded val scores for
p < 0.05 (adaptune/stats.py); with fewer than two seeds on either side it refuses, and
says so. ``no_domain_regresses`` asks, beyond a better objective, that no domain's seeded
val score be significantly worse than the holder's (Welch per domain, Holm across the
domains both have; the refusal names them): a method that reports its objective per
domain (``val/acc/<domain>``) records those per seed with its re-runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from adaptune.job.objective import Mode
from adaptune.method import TEST_PREFIX, VAL_PREFIX
from adaptune.tracking.names import Tag

__all__ = ["Evidence", "gather", "judge", "version_tags"]


@dataclass(frozen=True)
class Evidence:
    value: float  # what the alias compares: a val score
    kind: str  # "val mean of k seeds" | "val" | (a version promoted on test) "test..."
    scores: tuple[float, ...] = ()  # the objective's val score per re-run seed
    test: dict[str, float] = field(default_factory=dict)  # test/<metric>, ..._ci95: reported
    val: dict[str, float] = field(default_factory=dict)  # val/<metric> (the trial's), ..._mean
    fingerprint: str = ""
    domains: dict[str, tuple[float, ...]] = field(default_factory=dict)  # per seed, per domain


def gather(search_run: Any, best_run: Any, metric: str) -> Evidence:
    """The candidate's evidence, from its search run (re-runs) and its trial run."""
    search_metrics = dict(search_run.data.metrics)
    fingerprint = search_run.data.tags.get(Tag.DATA_FINGERPRINT, "")
    test = {k: float(v) for k, v in search_metrics.items() if k.startswith(TEST_PREFIX)}
    # the trial's own val (what the search selected on), then the re-runs' val/<m>_mean...
    val = {k: float(v) for k, v in best_run.data.metrics.items() if k.startswith(VAL_PREFIX)}
    val |= {k: float(v) for k, v in search_metrics.items() if k.startswith(VAL_PREFIX)}
    scores = _scores(search_run.data.tags.get(Tag.VAL_SCORES, ""))
    if f"{metric}_mean" in search_metrics and scores:
        kind = f"val mean of {len(scores)} seeds"
        mean = float(search_metrics[f"{metric}_mean"])
        domains = _domains(search_run.data.tags.get(Tag.VAL_DOMAIN_SCORES, ""))
        return Evidence(mean, kind, scores, test, val, fingerprint, domains)
    own = float(best_run.data.metrics[metric])
    return Evidence(own, "val", (own,), test, val, fingerprint)


def _scores(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(s) for s in text.split(",") if s.strip())
    except ValueError:
        return ()


def _domains(text: str) -> dict[str, tuple[float, ...]]:
    try:
        return {str(d): tuple(float(x) for x in xs) for d, xs in json.loads(text or "{}").items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def version_tags(ev: Evidence) -> dict[str, str]:
    """The model version's record of its evidence (read back by ``judge``)."""
    tags = {Tag.VALUE: repr(ev.value), Tag.VALUE_KIND: ev.kind}
    if ev.scores:
        tags[Tag.VAL_SCORES] = ",".join(repr(s) for s in ev.scores)
    if ev.domains:
        tags[Tag.VAL_DOMAIN_SCORES] = json.dumps(
            {d: list(xs) for d, xs in ev.domains.items()}, sort_keys=True
        )
    for key, value in ev.val.items():
        tags[Tag.VAL_PREFIX + key.removeprefix(VAL_PREFIX)] = repr(value)
    for key, value in ev.test.items():
        tags[Tag.TEST_PREFIX + key.removeprefix(TEST_PREFIX)] = repr(value)
    return tags


def on_test(tags: dict[str, str]) -> bool:
    """A model version promoted on test scores (before promotion moved to val)."""
    return tags.get(Tag.VALUE_KIND, "").startswith("test")


def judge(ev: Evidence, current: Any, alias: str, metric: str, mode: str, rule: str) -> str | None:
    """Why the candidate may not take `alias` from its holder `current` (a model version,
    or None); None if it may."""
    if current is None:
        return None
    tags = current.tags
    name = f"{alias} v{current.version}"
    if tags.get(Tag.METRIC) != metric or tags.get(Tag.MODE) != mode:
        return (
            f"{name} was chosen on {tags.get(Tag.METRIC)}/{tags.get(Tag.MODE)}, "
            f"not comparable with {metric}/{mode}"
        )
    old = Evidence(  # the holder's
        float(tags[Tag.VALUE]),
        tags.get(Tag.VALUE_KIND, "val"),
        _scores(tags.get(Tag.VAL_SCORES, "")),
        fingerprint=tags.get(Tag.DATA_FINGERPRINT, ""),
        domains=_domains(tags.get(Tag.VAL_DOMAIN_SCORES, "")),
    )
    if on_test(tags):
        return (
            f"{name} was promoted on a {old.kind} score, the candidate holds a {ev.kind} "
            f"score: not comparable (move the alias by hand to start over on val)"
        )
    if old.fingerprint and ev.fingerprint and old.fingerprint != ev.fingerprint:
        return f"{name} was scored on other data (fingerprint differs): not comparable"
    if not Mode(mode).better(ev.value, old.value):
        return f"{metric}={ev.value:.6g} ({ev.kind}) does not beat {name} ({old.value:.6g})"
    if rule == "no_domain_regresses":
        return _domain_regressions(ev, old, name, mode)
    if rule != "significant":
        return None
    if len(ev.scores) < 2 or len(old.scores) < 2:
        return (
            f"rule 'significant' needs final.seeds >= 2 on both sides (candidate "
            f"{len(ev.scores)}, {name} {len(old.scores)}): not promoted"
        )
    from adaptune.stats import welch

    test = welch(list(ev.scores), list(old.scores))
    if not test.significant:
        p = "n/a" if math.isnan(test.p) else f"{test.p:.3g}"
        return (
            f"{metric} {ev.value:.6g} vs {name} {old.value:.6g}: the gain is inside the noise "
            f"(p = {p}, {test.test}); not promoted"
        )
    return None


def _domain_regressions(ev: Evidence, old: Evidence, name: str, mode: str) -> str | None:
    """Why the candidate may not take the alias under no_domain_regresses: a domain whose
    seeded val score is significantly worse than the holder's (Holm across domains)."""
    from adaptune.stats import ALPHA, adjusted, welch

    shared = sorted(set(ev.domains) & set(old.domains))
    if not shared or any(len(ev.domains[d]) < 2 or len(old.domains[d]) < 2 for d in shared):
        return (
            f"rule 'no_domain_regresses' needs per-domain val scores of final.seeds >= 2 "
            f"seeds on both sides (candidate {len(ev.domains)} domains, {name} "
            f"{len(old.domains)}): not promoted"
        )
    tests = adjusted([welch(list(ev.domains[d]), list(old.domains[d])) for d in shared])
    worse = [
        f"{d} {t.diff:+.3g} (p_holm {t.p_holm:.3g})"
        for d, t in zip(shared, tests, strict=True)
        if t.p_holm is not None and t.p_holm < ALPHA and Mode(mode).better(0.0, t.diff)
    ]
    if worse:
        return f"worse than {name} on {len(worse)} domain(s): {', '.join(worse)}; not promoted"
    return None
