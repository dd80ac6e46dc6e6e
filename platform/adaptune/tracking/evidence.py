"""What a candidate for the champion alias brings, and whether it is enough to take it.

    ev = gather(search_run, best_run, "val/mse")     # test mean over seeds, else test, else val
    reason = judge(ev, holder_tags, "min", rule="significant")   # None: it may take it

The alias compares held-out test scores, never the validation number that chose the
winner: the re-runs' mean when the search had ``final.seeds``, else the chosen trial's
own test score; only a search recorded before test splits existed falls back to val.
Scores of different kinds, or on different data (fingerprints), are not compared.
``significant`` also asks Welch's t-test over the two sets of seeded test scores for
p < 0.05 (adaptune/stats.py); with fewer than two seeds on either side it refuses, and
says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from adaptune.method import test_name
from adaptune.tracking.names import Mode, Tag

__all__ = ["Evidence", "gather", "judge", "version_tags"]


@dataclass(frozen=True)
class Evidence:
    value: float  # what the alias compares
    kind: str  # "test mean of k seeds" | "test" | "val"
    scores: tuple[float, ...] = ()  # the objective's test score per re-run seed
    test: dict[str, float] = field(default_factory=dict)  # test/<metric>, ..._ci95
    fingerprint: str = ""

    @property
    def family(self) -> str:
        return "test" if self.kind.startswith("test") else "val"


def gather(search_run: Any, best_run: Any, metric: str) -> Evidence:
    """The candidate's evidence, from its search run (re-runs) and its trial run (test)."""
    key = test_name(metric)
    search_metrics = dict(search_run.data.metrics)
    fingerprint = search_run.data.tags.get(Tag.DATA_FINGERPRINT, "")
    test = {k: float(v) for k, v in search_metrics.items() if k.startswith("test/")}
    scores = _scores(search_run.data.tags.get(Tag.TEST_SCORES, ""))
    if f"{key}_mean" in search_metrics and scores:
        kind = f"test mean of {len(scores)} seeds"
        return Evidence(float(search_metrics[f"{key}_mean"]), kind, scores, test, fingerprint)
    own = best_run.data.metrics.get(key, search_metrics.get(key))
    if own is not None:
        return Evidence(float(own), "test", (float(own),), test, fingerprint)
    return Evidence(float(best_run.data.metrics[metric]), "val", (), {}, fingerprint)


def _scores(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(s) for s in text.split(",") if s.strip())
    except ValueError:
        return ()


def version_tags(ev: Evidence) -> dict[str, str]:
    """The model version's record of its evidence (read back by ``holder``)."""
    tags = {Tag.VALUE: repr(ev.value), Tag.VALUE_KIND: ev.kind}
    if ev.scores:
        tags[Tag.TEST_SCORES] = ",".join(repr(s) for s in ev.scores)
    for key, value in ev.test.items():
        tags[Tag.TEST_PREFIX + key.removeprefix("test/")] = repr(value)
    return tags


def holder(tags: dict[str, str]) -> Evidence:
    """A model version's evidence; versions registered before test splits hold val."""
    kind = tags.get(Tag.VALUE_KIND, "val")
    scores = _scores(tags.get(Tag.TEST_SCORES, ""))
    return Evidence(float(tags[Tag.VALUE]), kind, scores, {}, tags.get(Tag.DATA_FINGERPRINT, ""))


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
    old = holder(tags)
    if old.family != ev.family:
        return f"{name} holds a {old.kind} score, the candidate a {ev.kind} score: not comparable"
    if old.fingerprint and ev.fingerprint and old.fingerprint != ev.fingerprint:
        return f"{name} was scored on other data (fingerprint differs): not comparable"
    shown = test_name(metric) if ev.family == "test" else metric
    if not Mode(mode).better(ev.value, old.value):
        return f"{shown}={ev.value:.6g} ({ev.kind}) does not beat {name} ({old.value:.6g})"
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
            f"{shown} {ev.value:.6g} vs {name} {old.value:.6g}: the gain is inside the noise "
            f"(p = {p}, {test.test}); not promoted"
        )
    return None
