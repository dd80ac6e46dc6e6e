"""What a search needs to be resumed after its driver died, and the MLflow side of it.

    save(state_dir, Record(search=..., job=..., parent_run_id=..., ...))   # at the start
    rec = load(state_dir, "quickstart-20261126-071500")
    known = trial_run_ids(client, rec)      # trial id -> its MLflow run, reused on resume

Tune keeps the experiment (trials, searcher state) under the storage path; this record
ties it to the job that made it and to the MLflow runs already written, so `adaptune
resume` continues the same Tune experiment under the same parent run: no trial lost,
no trial logged twice.

A record also holds what its search trains and samples (`fingerprint`: the method, data,
fixed values, search settings and the space's distributions): a resume of a job file
changed since is refused, naming the keys, as it would mix two searches. `hold` is a lock
per search: a second driver of the same search (two resumes at once) is refused, naming
the process that holds it.

Records carry a format number. Tune pickles the search's callback and trainable by
module path, so a search started before the package layout of format 2 (when they
lived in ``adaptune.progress`` and ``adaptune.trial``) cannot be restored: ``load``
refuses its record with that reason instead of failing inside Tune.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptune.redact import REDACTED, scrub
from adaptune.tracking.names import Status, Tag

__all__ = [
    "FORMAT",
    "Busy",
    "Changed",
    "Record",
    "check_unchanged",
    "fingerprint",
    "hold",
    "job_file",
    "load",
    "restorable",
    "save",
    "settle_runs",
    "tracking_uri",
    "trial_run_ids",
    "update",
]

FORMAT = 3  # 3: the driver package moved from adaptune.search to adaptune.driver


@dataclass
class Record:
    search: str  # the search's name (or a multi-stage job's key)
    kind: str = "search"  # search | job
    job: str = ""  # the job file, absolute
    overrides: list[str] = field(default_factory=list)
    tracking_uri: str = ""
    finished: bool = False
    # a search
    parent_run_id: str = ""
    experiment_id: str = ""
    storage: str = ""
    job_key: str | None = None  # set when the search is a stage of a multi-stage job
    stage: int | None = None
    arm: str = ""  # set when the search is an arm of a comparison (not resumed alone)
    # a multi-stage job
    job_run_id: str = ""
    stages_done: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # fingerprint(plans) at the start
    study: str = ""  # the Optuna study's store (tracking/study.py), the study named `search`
    format: int = FORMAT


def record_path(state_dir: Path, name: str) -> Path:
    return state_dir / "searches" / f"{name}.json"


def save(state_dir: Path, rec: Record) -> None:
    """Written atomically; the tracking URI without its credentials (`tracking_uri` says
    where a resume finds them)."""
    rec = dataclasses.replace(rec, tracking_uri=scrub(rec.tracking_uri))
    path = record_path(state_dir, rec.search)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(rec), indent=2, default=str))
    tmp.replace(path)  # atomic: a crash never leaves half a record


def update(state_dir: Path, name: str, **changes: Any) -> None:
    path = record_path(state_dir, name)
    if path.exists():
        save(state_dir, dataclasses.replace(_read(path), **changes))


def _read(path: Path) -> Record:
    raw = json.loads(path.read_text())
    known = {f.name for f in dataclasses.fields(Record)}
    if not isinstance(raw, dict) or "search" not in raw:
        raise LookupError(f"{path} is not an adaptune search record")
    return Record(**{k: v for k, v in raw.items() if k in known} | {"format": raw.get("format", 1)})


def load(state_dir: Path, name: str) -> Record:
    """The record of search (or multi-stage job) `name`; LookupError names what exists,
    or why an old record cannot be resumed."""
    path = record_path(state_dir, name)
    if "/" in name or not path.exists():
        known = sorted(p.stem for p in (state_dir / "searches").glob("*.json"))
        listed = ", ".join(known[-8:]) if known else "none"
        raise LookupError(
            f"no search '{name}' to resume in {state_dir / 'searches'} (known: {listed})"
        )
    rec = _read(path)
    if rec.format < FORMAT and not rec.finished:
        raise LookupError(
            f"{name} was started by an earlier adaptune (record format {rec.format}); Tune "
            "saved its callback under module paths that no longer exist, so it cannot be "
            "resumed: start the search again"
        )
    return rec


# What a resumed search must share with its start (others, e.g. promote, tracking,
# pricing, max_concurrent or the description, may change between the two).
TRAINS = ("method", "data", "fixed", "search", "stages", "arms")
FREE = {"search.space", "search.max_concurrent"}  # the space file's path: its content counts
# when the search ends, not what it trains: a resume takes the job's budget as it is now
ENDS = ("search.budget", "search.stop_when")


def fingerprint(plans: list[Any]) -> dict[str, str]:
    """Flat key -> JSON value of what the plans train and sample; stage `i`'s keys start
    with `stages[i].` when there are several."""
    from optuna.distributions import distribution_to_json

    out: dict[str, str] = {}
    for i, plan in enumerate(plans):
        at = f"stages[{i}]." if len(plans) > 1 else ""
        dumped = plan.job.model_dump(mode="json", include=set(TRAINS))
        flat = {k: v for k, v in _flat(dumped).items() if k not in FREE and not k.startswith(ENDS)}
        flat.update({f"space.{k}": distribution_to_json(d) for k, d in plan.space.items()})
        out.update({at + k: v for k, v in flat.items()})
    return out


def _flat(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: json.dumps(value, sort_keys=True)}


class Changed(LookupError):
    """The job changed since the search started: resuming would mix two searches."""


def check_unchanged(rec: Record, plans: list[Any]) -> None:
    """Changed, naming each key that differs ("key: old -> new"), unless `plans` train
    and sample what the record's search started with (a record written before
    fingerprints is not checked)."""
    if not rec.values:
        return
    now = fingerprint(plans)
    # a key added to the spec since the record was written, at its default (null), is not a
    # change (search.finalists for a search started before it existed)
    keys = sorted(
        k
        for k in rec.values.keys() | now.keys()
        if rec.values.get(k) != now.get(k) and (k in rec.values or now[k] != "null")
    )
    if keys:
        diff = "; ".join(
            f"{k}: {rec.values.get(k, '(unset)')} -> {now.get(k, '(unset)')}" for k in keys
        )
        raise Changed(
            f"{rec.search}: its job changed since it started ({diff}); a resume would mix "
            f"two searches. Restore the job file, or start a new search warm-started from "
            f"this one's trials: adaptune resume {rec.search} --force"
        )


class Busy(LookupError):
    """Another process drives this search now."""


_HELD: dict[str, int] = {}  # search -> open lock file descriptor, in this process


@contextlib.contextmanager
def hold(state_dir: Path, name: str) -> Iterator[None]:
    """The search's lock for as long as this block runs (Busy, naming the process that
    holds it, if another does); re-entered freely within one process. The operating
    system drops it when the process dies, so a killed driver never leaves it stale."""
    if name in _HELD:
        yield
        return
    path = state_dir / "searches" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise Busy(
            f"{name} is being run by process {holder} (lock {path}); wait for it, or stop "
            "that process first"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[name] = fd
    try:
        yield
    finally:
        del _HELD[name]
        os.close(fd)  # releases the lock


def tracking_uri(rec: Record, given: str | None) -> str | None:
    """The store a resume writes to: `given` (--tracking-uri), else the record's, else,
    when the record's lost its credentials to scrubbing, $MLFLOW_TRACKING_URI; LookupError
    naming both when neither is there."""
    if given:
        return given
    if REDACTED not in rec.tracking_uri:
        return rec.tracking_uri or None
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    raise LookupError(
        f"{rec.search}: its record keeps the tracking URI without credentials "
        f"({rec.tracking_uri}); give it again: --tracking-uri URI or $MLFLOW_TRACKING_URI"
    )


def trial_run_ids(client: Any, rec: Record) -> dict[str, str]:
    """Trial id -> MLflow run id for the trial runs already under the search's parent run."""
    runs = client.search_runs(
        [rec.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{rec.parent_run_id}'",
        max_results=10000,
    )
    out: dict[str, str] = {}
    for run in runs:
        trial = run.data.tags.get(Tag.TRIAL_ID)
        if trial and run.data.tags.get(Tag.STATUS) != Status.LOST:
            out[trial] = run.info.run_id
    return out


def settle_runs(client: Any, known: dict[str, str], tune_trials: set[str]) -> list[str]:
    """Before resuming: runs still marked running are marked interrupted (the trial
    restarts and reopens its run); runs of trials Tune never saved (started after its
    last state save) are marked lost and closed, and dropped from `known`. Returns them."""
    lost = []
    for trial, run_id in list(known.items()):
        run = client.get_run(run_id)
        if trial not in tune_trials:
            client.set_tag(run_id, Tag.STATUS, Status.LOST)
            client.set_tag(
                run_id,
                Tag.ERROR,
                "the search driver died before Tune saved this trial; the search "
                "resumed without it (its configuration may be sampled again)",
            )
            if run.info.status == "RUNNING":
                client.set_terminated(run_id, "KILLED")
            lost.append(trial)
            del known[trial]
        elif run.info.status == "RUNNING":
            client.set_tag(run_id, Tag.STATUS, Status.INTERRUPTED)
            client.set_terminated(run_id, "KILLED")
    return lost


def running_stage(state_dir: Path, job_key: str, stage: int) -> Record | None:
    """The record of stage `stage`'s search of job `job_key`, if it started and did not
    finish."""
    for path in sorted((state_dir / "searches").glob("*.json")):
        try:
            rec = _read(path)
        except (LookupError, ValueError, TypeError):
            continue
        if rec.job_key == job_key and rec.stage == stage and not rec.finished:
            return rec
    return None


def restorable(rec: Record) -> bool:
    """Whether Tune saved the search's experiment state (a driver killed while the Tuner
    was starting leaves a folder without the experiment snapshot)."""
    from ray import tune

    path = f"{rec.storage.rstrip('/')}/{rec.search}"
    if not tune.Tuner.can_restore(path):
        return False
    return "://" in path or any(Path(path).glob("experiment_state-*.json"))


def job_file(rec: Record) -> str:
    """The record's job file; LookupError when it is gone (a resume or rerun reads it)."""
    if not rec.job or not Path(rec.job).exists():
        raise LookupError(f"the job file {rec.job or '(none recorded)'} is gone; it is needed")
    return rec.job
