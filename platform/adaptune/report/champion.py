"""The champion in the registry as it stands for one search: the version this search
registered (if any), the champion before it, and how their objective values compare.

    info = champion_info(client, search)   # Champion(verdict="champion -> v2 ...", rows=[...])

Versions are registered only when they beat the alias holder, so the version just
before this search's one is the champion it replaced. Each row says its val score (what
promotion compares) and its held-out test score apart, under the metric's own names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from adaptune.job.objective import Mode
from adaptune.method import test_name
from adaptune.report.data import Search
from adaptune.tracking.evidence import on_test
from adaptune.tracking.names import SearchMetric, Tag

__all__ = ["Champion", "champion_info"]


@dataclass
class Champion:
    model_name: str
    alias: str
    verdict: str
    # role, version, <metric> (val), test/<name> (held-out test), search, trial_id
    rows: list[dict[str, Any]] = field(default_factory=list)


def _row(role: str, mv: Any, metric: str) -> dict[str, Any]:
    """A version's row. Its value tag is val, or test on a version promoted on test by an
    older adaptune (its value_kind says so): each goes under its own column."""
    tags = mv.tags or {}
    test = test_name(metric)
    value = float(tags[Tag.VALUE]) if tags.get(Tag.VALUE) else None
    held_out = tags.get(Tag.TEST_PREFIX + test.split("/", 1)[1])
    return {
        "role": role,
        "version": str(mv.version),
        metric: None if on_test(tags) else value,
        test: value if on_test(tags) else (float(held_out) if held_out else None),
        "search": tags.get(Tag.SEARCH, ""),
        "trial_id": tags.get(Tag.TRIAL_ID, ""),
    }


def champion_info(client: MlflowClient, search: Search) -> Champion:
    name = search.tags.get(Tag.MODEL_NAME, "")
    alias = search.tags.get(Tag.ALIAS, "champion")
    info = Champion(name, alias, "")
    if not name:
        info.verdict = "This search names no registered model."
        return info
    try:
        versions = sorted(
            client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version)
        )
    except MlflowException:
        versions = []
    try:
        holder = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        holder = None
    mine = [v for v in versions if (v.tags or {}).get(Tag.SEARCH) == search.name]
    best = search.metrics.get(SearchMetric.best(search.metric))
    if mine:
        ours = mine[-1]
        before = [v for v in versions if int(v.version) < int(ours.version)]
        info.rows.append(_row("this search", ours, search.metric))
        if before:
            info.rows.append(_row("previous champion", before[-1], search.metric))
        still = holder is not None and str(holder.version) == str(ours.version)
        info.verdict = f"{name} v{ours.version} from this search " + (
            f"holds @{alias}." if still else f"was promoted; @{alias} has since moved on."
        )
    else:
        if best is not None:
            info.rows.append(
                {
                    "role": "this search (best trial, not registered)",
                    "version": "",
                    search.metric: best,
                    test_name(search.metric): search.metrics.get(test_name(search.metric)),
                    "search": search.name,
                    "trial_id": search.tags.get(Tag.BEST_TRIAL, ""),
                }
            )
        if search.tags.get("mlflow.parentRunId"):  # a stage: only a job's last stage promotes
            why = " (a stage of a multi-stage job: only the last stage promotes)."
        else:
            why = " (it did not beat the champion, or promotion was off)." if best else "."
        info.verdict = "No model version was registered from this search" + why
    if holder is not None and not any(r["version"] == str(holder.version) for r in info.rows):
        info.rows.append(_row(f"current @{alias}", holder, search.metric))
    _compare(info, search.metric, search.mode)
    return info


def _compare(info: Champion, metric: str, mode: str) -> None:
    """Append how this search's val score compares with the champion it is measured
    against (promotion compares val, never test)."""
    if len(info.rows) < 2 or info.rows[0][metric] is None or info.rows[1][metric] is None:
        if info.rows and len(info.rows) == 1 and info.rows[0]["version"]:
            info.verdict += " It is the first version of this model."
        return
    new, old = info.rows[0][metric], info.rows[1][metric]
    delta = new - old
    word = "better" if Mode(mode).better(new, old) else ("equal" if delta == 0 else "worse")
    info.verdict += (
        f" Against {info.rows[1]['role']} v{info.rows[1]['version']}: {metric} {new:.6g} vs "
        f"{old:.6g} ({delta:+.4g}, {word}; {Mode(mode).word} is better)."
    )
