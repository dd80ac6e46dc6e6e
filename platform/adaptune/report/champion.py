"""The champion in the registry as it stands for one search: the version this search
registered (if any), the champion before it, and how their objective values compare.

    info = champion_info(client, search)   # Champion(verdict="champion -> v2 ...", rows=[...])

Versions are registered only when they beat the alias holder, so the version just
before this search's one is the champion it replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from adaptune.job.objective import Mode
from adaptune.report.data import Search
from adaptune.tracking.names import SearchMetric, Tag

__all__ = ["Champion", "champion_info"]


@dataclass
class Champion:
    model_name: str
    alias: str
    verdict: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # role, version, value, search


def _row(role: str, mv: Any) -> dict[str, Any]:
    tags = mv.tags or {}
    value = tags.get(Tag.VALUE)
    return {
        "role": role,
        "version": str(mv.version),
        "value": float(value) if value else None,
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
        info.rows.append(_row("this search", ours))
        if before:
            info.rows.append(_row("previous champion", before[-1]))
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
                    "value": best,
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
        info.rows.append(_row(f"current @{alias}", holder))
    _compare(info, search.mode)
    return info


def _compare(info: Champion, mode: str) -> None:
    """Append how this search's value compares with the champion it is measured against."""
    if len(info.rows) < 2 or info.rows[0]["value"] is None or info.rows[1]["value"] is None:
        if info.rows and len(info.rows) == 1 and info.rows[0]["version"]:
            info.verdict += " It is the first version of this model."
        return
    new, old = info.rows[0]["value"], info.rows[1]["value"]
    delta = new - old
    word = "better" if Mode(mode).better(new, old) else ("equal" if delta == 0 else "worse")
    info.verdict += (
        f" Against {info.rows[1]['role']} v{info.rows[1]['version']}: {new:.6g} vs "
        f"{old:.6g} ({delta:+.4g}, {word}; {Mode(mode).word} is better)."
    )
