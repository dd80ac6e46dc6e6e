"""What `adaptune data JOB` says about a job's data: per split its size, class or label
distribution and domains, and the warnings a search's numbers would hide.

    splits = method.read_splits(data)     # {"train": {"text": [...], "label": [...], ...}}
    report = check_splits(splits, batch_size=16)
    report.summary    # {split: {"size", "labels", "domains"}}
    report.warnings   # one line each

A split's columns: ``text``; ``label`` (a class name or number, or a list of label names
for multi-label data); ``domain`` where the method has domains. Warnings: an example in
two splits (the same text after whitespace and case are normalised: a test example seen
in training inflates every test number), a class of train missing from another split,
and a domain of the train split with fewer examples than one batch. Pure Python.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

__all__ = ["DataReport", "check_splits", "normalise"]

SHOWN = 3  # duplicates quoted per pair of splits
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", str(text)).strip().lower()


@dataclass
class DataReport:
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    duplicates: dict[str, int] = field(default_factory=dict)  # "train/test" -> count


def _labels(values: list[Any]) -> Counter[str]:
    count: Counter[str] = Counter()
    for v in values:
        for one in v if isinstance(v, list | tuple) else [v]:
            count[str(one)] += 1
    return count


def check_splits(splits: dict[str, dict[str, list[Any]]], batch_size: int) -> DataReport:
    out = DataReport()
    for name, cols in splits.items():
        entry: dict[str, Any] = {"size": len(cols["text"])}
        if "label" in cols:
            entry["labels"] = dict(sorted(_labels(cols["label"]).items()))
        if "domain" in cols:
            entry["domains"] = dict(sorted(Counter(map(str, cols["domain"])).items()))
        out.summary[name] = entry
    _duplicates(splits, out)
    train = out.summary.get("train", {})
    for name, entry in out.summary.items():
        if name == "train" or "labels" not in entry or "labels" not in train:
            continue
        missing = sorted(set(train["labels"]) - set(entry["labels"]))
        if missing:
            out.warnings.append(
                f"{name}: no example of {', '.join(missing)} (in train): its scores "
                f"say nothing about {'that class' if len(missing) == 1 else 'those classes'}"
            )
    for domain, n in train.get("domains", {}).items():
        if n < batch_size:
            out.warnings.append(
                f"train: domain '{domain}' has {n} examples, fewer than one batch of "
                f"{batch_size}: a per-domain batch cannot be filled"
            )
    return out


def _duplicates(splits: dict[str, dict[str, list[Any]]], out: DataReport) -> None:
    seen = {name: {normalise(t): t for t in cols["text"]} for name, cols in splits.items()}
    for a, b in combinations(splits, 2):
        shared = [seen[a][k] for k in seen[a] if k in seen[b]]
        if not shared:
            continue
        out.duplicates[f"{a}/{b}"] = len(shared)
        quoted = "; ".join(repr(str(t)[:60]) for t in shared[:SHOWN])
        more = f" and {len(shared) - SHOWN} more" if len(shared) > SHOWN else ""
        out.warnings.append(
            f"{len(shared)} example{'s' if len(shared) > 1 else ''} in both {a} and {b} "
            f"(same text after normalising whitespace and case): {quoted}{more}"
        )
