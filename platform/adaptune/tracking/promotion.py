"""Guarded promotion: the best trial's model moves the registry alias only if it wins.

    result = promote(client, search_run, "dao-finsent", "champion", "val/mse", "min")

The best trial is the one ``search.results`` chose, named by the search run's
``best_trial`` tag; a search recorded before that tag existed is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from adaptune.job.objective import Mode
from adaptune.tracking import evidence
from adaptune.tracking.names import Tag
from adaptune.tracking.reach import locked
from adaptune.tracking.store import quiet, trial_runs

__all__ = ["Promotion", "promote"]


@dataclass(frozen=True)
class Promotion:
    model_name: str
    version: str | None
    promoted: bool
    reason: str
    trial_id: str | None = None
    value: float | None = None
    previous: str | None = None


def _chosen(client: MlflowClient, search_run: Any, metric: str, best_trial: str | None) -> Any:
    """The chosen trial's run, or why there is none to promote (a string)."""
    best_trial = best_trial or search_run.data.tags.get(Tag.BEST_TRIAL)
    if not best_trial:  # searches recorded before search.results wrote the tag
        return (
            f"the search names no best trial (no {Tag.BEST_TRIAL} tag: recorded by an older "
            "adaptune); run the search again to promote from it"
        )
    mine = [
        r for r in trial_runs(client, search_run) if r.data.tags.get(Tag.TRIAL_ID) == best_trial
    ]
    if not mine:
        return f"best trial {best_trial} has no run in {client.tracking_uri}"
    run = max(mine, key=lambda r: int(r.info.start_time or 0))
    if not run.data.tags.get(Tag.MODEL_URI):
        return f"best trial {best_trial} has no logged model (its model write failed)"
    if metric not in run.data.metrics:
        return f"best trial {best_trial} has no {metric}"
    return run


def promote(
    client: MlflowClient,
    search_run: Any,
    model_name: str,
    alias: str,
    metric: str,
    mode: str,
    dry_run: bool = False,
    best_trial: str | None = None,
    rule: str = "better",
) -> Promotion:
    """Register the search's best trial; move `alias` only if it beats the holder. What
    was decided, and why, is recorded on the search run (``Tag.PROMOTION``, unless a dry
    run), where `at.load` reads it back.

    The best trial is `best_trial`, else the one the search chose (its ``best_trial``
    tag, written by ``search.results``); a search without that tag is refused. If the
    chosen trial has no model (its write failed), nothing is promoted: another trial
    never takes its place silently.

    The alias compares validation scores, never test (tracking/evidence.py):
    ``rule="better"`` moves it to a strictly better score, ``"significant"`` only to one
    better beyond the noise of the seeded re-runs, ``"no_domain_regresses"`` to a better
    one that no domain's seeded val score is significantly worse on.

    Safe when several searches promote to one registered model at once, on one machine
    or many. MLflow has no transactions, so two layers:

    1. Beside a local store (SQLite file, file store) a file lock serialises the whole
       read-compare-register-move: a worse model never holds the alias, not even briefly.
    2. Against a tracking server there is no shared file to lock; the alias converges by
       compare-and-set instead. A promoter registers its version first, tagged
       ``adaptune.candidate=<alias>`` with its metric, mode and value, and then loops:
       read the alias and every candidate, stop if the alias is on the best, else move
       it there (``_settle``). Whoever writes the alias last re-read it after that write
       and found it on the best of every candidate registered before that read; anyone
       registering later reads after that write too, and would have written again. So
       the alias ends on the best, whatever the interleaving; a worse version can hold it
       only between two promoters' writes.

    Candidates are the versions promoted under this alias on the same metric and mode,
    plus the current holder. Guarded promotion only ever moves the alias to a better
    one, so the best candidate is the rightful holder; to retire a version for good,
    delete its ``adaptune.candidate`` tag.
    """
    trial_id: str | None = None
    value: float | None = None
    previous: str | None = None

    def decided(promoted: bool, reason: str, version: str | None = None) -> Promotion:
        result = Promotion(model_name, version, promoted, reason, trial_id, value, previous)
        if not dry_run:
            text = json.dumps(dataclasses.asdict(result))
            client.set_tag(search_run.info.run_id, Tag.PROMOTION, text)
        return result

    best = _chosen(client, search_run, metric, best_trial)
    if isinstance(best, str):
        return decided(False, best)
    ev = evidence.gather(search_run, best, metric)
    value, trial_id = ev.value, best.data.tags.get(Tag.TRIAL_ID)
    with _store_lock(client.tracking_uri):
        current = _champion(client, model_name, alias)
        previous = str(current.version) if current is not None else None
        holders = (current.run_id, current.tags.get(Tag.RUN_ID)) if current is not None else ()
        if best.info.run_id in holders:  # promoted before: say so, not "does not beat" itself
            return decided(True, f"already {alias}: v{previous} is this trial's model", previous)
        refused = evidence.judge(ev, current, alias, metric, mode, rule)
        if refused:
            return decided(False, refused)
        if dry_run:
            return decided(True, "dry run: would register the model and move the alias to it")
        version = _register(client, best, model_name, alias, metric, mode, ev, search_run)
        holder = _settle(client, model_name, alias, metric, mode)
    if holder != version:
        reason = f"v{version} registered, but {alias} is on v{holder}: better, promoted meanwhile"
        return decided(False, reason, version)
    return decided(True, f"{alias} -> v{version}", version)


def _store_lock(uri: str) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock beside a local store, held across processes; none for a server."""
    path = _lock_path(uri)
    return locked(path) if path is not None else contextlib.nullcontext()


def _lock_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":  # sqlite:////abs/mlflow.db, sqlite:///relative.db
        db = uri.split("?")[0].removeprefix("sqlite:///")
        return Path(f"{db}.promote.lock") if db and db != ":memory:" else None
    if parsed.scheme in ("", "file"):  # a file store's folder
        return Path(parsed.path or uri) / ".promote.lock"
    return None  # a tracking server or database: compare-and-set alone (see promote)


def _settle(client: MlflowClient, name: str, alias: str, metric: str, mode: str) -> str:
    """Move `alias` to the best candidate until reading it back agrees; returns its holder."""
    last = ""
    for _ in range(50):
        holder = _champion(client, name, alias)
        best = _best_candidate(client, name, alias, metric, mode, holder)
        if holder is not None and str(holder.version) == best:
            return best
        try:
            client.set_registered_model_alias(name, alias, best)
        except MlflowException as e:
            # another promoter wrote the alias at the same moment: a SQL store's
            # read-then-insert fails its UNIQUE constraint. Read it again and decide anew.
            last = f" (last: {str(e).splitlines()[0][:200]})"
    raise RuntimeError(f"{name}@{alias} kept moving while promoting; run promote again{last}")


def _best_candidate(
    client: MlflowClient, name: str, alias: str, metric: str, mode: str, holder: Any
) -> str:
    versions = list(client.search_model_versions(f"name = '{name}'"))
    candidates = [v for v in versions if v.tags.get(Tag.CANDIDATE) == alias]
    if holder is not None:
        candidates.append(holder)
    comparable = [
        v
        for v in candidates
        if v.tags.get(Tag.METRIC) == metric
        and v.tags.get(Tag.MODE) == mode
        and Tag.VALUE in v.tags
        and not evidence.on_test(v.tags)  # test never meets val
    ]
    by_age = sorted(comparable, key=lambda v: int(v.version))  # ties: the older version keeps it
    top = Mode(mode).best(by_age, key=lambda v: float(v.tags[Tag.VALUE]))
    return str(top.version)


def _champion(client: MlflowClient, name: str, alias: str) -> Any:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _register(
    client: MlflowClient,
    run: Any,
    name: str,
    alias: str,
    metric: str,
    mode: str,
    ev: evidence.Evidence,
    search_run: Any,
) -> str:
    """The trial's model version (registered once per run), tagged a candidate for `alias`
    before the alias moves (promote counts on that order)."""
    run_id = run.info.run_id
    for mv in client.search_model_versions(f"name = '{name}'"):
        if run_id in (mv.run_id, mv.tags.get(Tag.RUN_ID)):
            client.set_model_version_tag(name, mv.version, Tag.CANDIDATE, alias)
            return str(mv.version)
    tags = {
        Tag.SEARCH: search_run.data.tags.get(Tag.SEARCH, ""),
        Tag.TRIAL_ID: run.data.tags.get(Tag.TRIAL_ID, ""),
        Tag.RUN_ID: run_id,
        Tag.METRIC: metric,
        Tag.MODE: mode,
        **evidence.version_tags(ev),
        Tag.DATA_FINGERPRINT: search_run.data.tags.get(Tag.DATA_FINGERPRINT, ""),
        Tag.CANDIDATE: alias,
    }
    with quiet():  # no "Successfully registered model" / "Created version" prints
        mv = mlflow.register_model(run.data.tags[Tag.MODEL_URI], name, tags=tags)
    return str(mv.version)
