"""Per-domain metrics summed up, so a search can optimise its worst domain.

    summaries({"val/acc/books": 0.8, "val/acc/dvd": 0.6}, "val/acc", "max")
    # {"val/acc_mean_domain": 0.7, "val/acc_min_domain": 0.6, "val/acc_max_domain": 0.8,
    #  "val/acc_worst_domain": 0.6}
    names(method.metrics, method.metric)   # the names a job may use as metric or bound

A method that reports a metric per domain (``val/<name>/<domain>``: DAMA and MAD report
``val/acc/<domain>``) gets, for every such family of two or more domains, its mean, its
lowest and highest domain, and for the family of the method's own objective its worst
domain (the lowest when higher is better). The trial worker adds them to each epoch's
report (val and test alike), so ``search.metric: val/acc_worst_domain``, a constraint
``val/acc_min_domain >= 0.5`` or a Pareto search over mean and worst domain read them as
any metric. Pure Python: validation imports it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["names", "summaries"]

_PER_DOMAIN = re.compile(r"^(val|test)/([^/]+)/([^/]+)$")


def _families(keys: Iterable[str]) -> dict[str, list[str]]:
    """ "val/acc" -> its per-domain keys, for families of two or more domains."""
    out: dict[str, list[str]] = {}
    for key in keys:
        m = _PER_DOMAIN.match(key)
        if m:
            out.setdefault(f"{m.group(1)}/{m.group(2)}", []).append(key)
    return {base: keys for base, keys in out.items() if len(keys) >= 2}


def summaries(metrics: Mapping[str, float], objective: str, mode: str) -> dict[str, float]:
    """The domain summaries of `metrics` (module docstring); `objective`, `mode`: the
    method's own metric and direction, which say what the worst domain is."""
    out: dict[str, float] = {}
    for base, keys in _families(metrics).items():
        values = [float(metrics[k]) for k in keys]
        low, high = min(values), max(values)
        out[f"{base}_mean_domain"] = sum(values) / len(values)
        out[f"{base}_min_domain"], out[f"{base}_max_domain"] = low, high
        if base.partition("/")[2] == objective.partition("/")[2]:
            out[f"{base}_worst_domain"] = low if mode == "max" else high
    return out


def names(metrics: Iterable[str], objective: str) -> list[str]:
    """The summary names `summaries` adds for a method that declares `metrics`."""
    return list(summaries({m: 0.0 for m in metrics}, objective, "max"))
