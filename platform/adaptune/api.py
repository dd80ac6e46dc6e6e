"""Searching from Python: the functions behind ``import adaptune as at``.

    job = at.Job.from_yaml("jobs/quickstart.yaml", overrides={"search.num_samples": 4})
    result = at.search(job)                  # SearchResult (adaptune/result.py)
    result.trials_df()
    at.load(result.name).best.model_uri
    handle = at.submit(job, address="http://127.0.0.1:8265"); handle.wait()

Library mode: a call changes no logger, environment variable, MLflow default or Tune
setting that outlives it (the search's own settings are undone when it returns), stops
only a Ray it started itself, and raises (SpecError, SearchFailed) instead of exiting.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from adaptune.job.spec import JobSpec
from adaptune.job.yamlfile import SpecError
from adaptune.library import library_mode
from adaptune.result import SearchResult

__all__ = [
    "SearchFailed",
    "Submission",
    "load",
    "resumable",
    "resume",
    "run_plans",
    "search",
    "submit",
]


class SearchFailed(RuntimeError):
    """A search that ran but completed no trial (every trial errored, or a stage found no
    model); `result` holds what was recorded, `summaries` the driver's summaries."""

    def __init__(self, message: str, result: SearchResult | None = None, summaries: Any = None):
        super().__init__(message)
        self.result, self.summaries = result, summaries or []


def _state(state_dir: str | Path | None) -> Path:
    from adaptune.tracking import default_state_dir

    return Path(state_dir).resolve() if state_dir else default_state_dir()


def search(
    job: JobSpec | str | Path,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    state_dir: str | Path | None = None,
    quiet: bool = True,
    trust_remote_code: bool = False,
    ray_dashboard: bool = False,
    verbose: bool = False,
    ledger: str | Path | None = None,
    promote_partial: bool = False,
) -> SearchResult:
    """Run `job` (a Job, or a job file's path): one search, its stages or its arms.

    `address`: a Ray cluster (default: a private local one, stopped at the end);
    `tracking_uri`: an MLflow store (default: the job's, else SQLite in `state_dir`,
    default ./.adaptune or $ADAPTUNE_HOME); `quiet=False` prints the CLI's progress lines;
    `ledger`: a folder a comparison's results record is also written to.
    Raises SpecError before anything starts when the job is wrong, SearchFailed when no
    trial completed, SearchInterrupted (a KeyboardInterrupt) on Ctrl-C or SIGTERM: the
    search stays resumable, nothing promoted, unless `promote_partial` (then it ends on
    the trials that finished)."""
    if not isinstance(job, JobSpec):
        job = JobSpec.from_yaml(job)
    from adaptune.plan import ON_CLUSTER, make_plans

    remote = address or os.environ.get("RAY_ADDRESS")  # checked there, once connected
    plans = make_plans(job, ON_CLUSTER if remote else None, trust_remote_code=trust_remote_code)
    state = _state(state_dir)
    origin = {"job": _job_file(job, state), "overrides": _overrides(job), "ledger": ledger}
    return _run(
        plans,
        state,
        origin,
        None,
        address=address,
        tracking_uri=tracking_uri,
        quiet=quiet,
        dashboard=ray_dashboard,
        verbose=verbose,
        promote_partial=promote_partial,
    )


def resume(
    name: str,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    state_dir: str | Path | None = None,
    quiet: bool = True,
    trust_remote_code: bool = False,
    ray_dashboard: bool = False,
    verbose: bool = False,
    promote_partial: bool = False,
    force: bool = False,
) -> SearchResult:
    """Continue the search or job `name` whose driver died or was interrupted (its record
    in `state_dir`): no trial lost, none logged twice. LookupError if there is nothing to
    resume, another process runs it (resume.Busy) or its job changed since it started
    (resume.Changed); with `force`, a changed job runs as a new search warm-started from
    this one's trials."""
    from adaptune.driver import resume as resume_lib
    from adaptune.job.overrides import parse_override
    from adaptune.plan import make_plans

    state = _state(state_dir)
    record = resumable(state, name)
    if record is None:
        raise LookupError(f"{name} finished already; nothing to resume")

    def plans_of(overrides: list[str]) -> list[Any]:
        sets = dict(parse_override(s) for s in overrides)
        return make_plans(JobSpec.from_yaml(record.job, sets), trust_remote_code=trust_remote_code)

    plans, overrides, started = plans_of(record.overrides), record.overrides, record
    try:
        resume_lib.check_unchanged(record, plans)
    except resume_lib.Changed:
        if not force:
            raise
        overrides = warm_restart(record)
        plans, record = plans_of(overrides), None
    return _run(
        plans,
        state,
        {"job": started.job, "overrides": overrides},
        record,
        address=address,
        tracking_uri=resume_lib.tracking_uri(started, tracking_uri),  # the warm start's too
        quiet=quiet,
        dashboard=ray_dashboard,
        verbose=verbose,
        promote_partial=promote_partial,
    )


def warm_restart(record: Any) -> list[str]:
    """`resume --force` of a changed job: the overrides of a new search of it whose first
    trials are the old search's best configs (search.warm_start)."""
    if record.kind != "search":
        raise LookupError(
            f"{record.search} is a multi-stage job: it cannot be warm-started; restore its "
            f"job file to resume it, or run it again: adaptune search {record.job}"
        )
    return [*record.overrides, f"search.warm_start.from={record.search}"]


def resumable(state: Path, name: str) -> Any:
    """The resume record of `name` (driver/resume.py), None if it finished; LookupError
    when there is none, it is a stage of a job, or its job file is gone."""
    from adaptune.driver import resume as resume_lib

    record = resume_lib.load(state, name)
    if record.finished:
        return None
    if record.stage is not None:
        raise LookupError(
            f"{name} is stage {record.stage + 1} of job {record.job_key}: resume the job "
            f"instead (adaptune resume {record.job_key})"
        )
    if record.arm:
        raise LookupError(
            f"{name} is arm '{record.arm}' of the comparison {record.job}: a comparison "
            "runs its arms at equal budget in one go, so one arm is not resumed alone; "
            f"run it again: adaptune search {record.job}"
        )
    resume_lib.job_file(record)
    return record


def run_plans(
    plans: list[Any],
    state: Path,
    origin: dict[str, Any],
    record: Any = None,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    quiet: bool = True,
    dashboard: bool = False,
    verbose: bool = False,
    read_back: bool = True,
    promote_partial: bool = False,
) -> tuple[list[Any], SearchResult | None]:
    """Run checked plans in library mode: the driver's summaries (what the CLI prints),
    and the result read back from MLflow (None if it cannot be read: MLflow down at the
    end, which the summaries say; or not read: `read_back` False). A local Ray this call
    started stays up for the next search, as after ray.init(); ray.shutdown() stops it
    (the CLI does on exit). One search per plan: a search, a job's stages or a comparison's
    arms (make_plans), or the job `record` names continued."""
    from adaptune import tracking
    from adaptune.driver import resume as resume_lib
    from adaptune.result import load_result

    with library_mode(quiet=quiet), contextlib.ExitStack() as held:
        if record is not None:  # refused now, before Ray starts, if another driver runs it
            held.enter_context(resume_lib.hold(state, record.search))
        from adaptune.driver.tuner import needs_dashboard

        common: dict[str, Any] = {
            "promote_partial": promote_partial,
            "address": address,
            "tracking_uri": tracking_uri,
            "verbose": verbose,
            "origin": origin,
            "dashboard": dashboard or needs_dashboard(plans),
        }
        if plans[0].job.arm and record is None:  # a comparison: one search per arm
            from adaptune.driver.compare import run_arms

            summaries = run_arms(plans, state, **common)
        elif len(plans) > 1 or (record is not None and record.kind == "job"):
            from adaptune.driver.stages import run_stages

            summaries = run_stages(plans, state, resume=record, **common)
        else:
            from adaptune.driver.run import run_search

            summaries = [run_search(plans[0], state, resume=record, **common)]
        last = summaries[-1]
        if not read_back:
            return summaries, None
        try:
            with tracking.fail_fast():
                result = load_result(
                    tracking.setup(last.tracking_uri),
                    _name_of(plans, summaries),
                    state,
                    champion=last.promotion if len(summaries) == 1 else None,
                )
        except Exception:  # the summaries say what could not be recorded
            return summaries, None
    result.summaries = summaries
    return summaries, result


def _run(
    plans: list[Any], state: Path, origin: dict[str, Any], record: Any, **kw: Any
) -> SearchResult:
    from adaptune.driver.stages import StageFailed

    try:
        summaries, result = run_plans(plans, state, origin, record, **kw)
    except StageFailed as e:
        raise SearchFailed(str(e)) from e
    if result is None:
        raise SearchFailed("the search ran, but MLflow cannot be read back", None, summaries)
    if not result.completed:
        raise SearchFailed(
            f"{result.name}: no trial completed (see its MLflow runs)", result, summaries
        )
    return result


def _name_of(plans: list[Any], summaries: list[Any]) -> str:
    """The search's name, or the job run's id for stages and arms (their job run)."""
    if len(summaries) == 1 and not plans[0].job.arm:
        return str(summaries[0].search)
    from adaptune import tracking

    client = tracking.setup(summaries[0].tracking_uri)
    parent = client.get_run(summaries[0].parent_run_id).data.tags.get("mlflow.parentRunId")
    return str(parent or summaries[-1].search)


def _job_file(job: JobSpec, state: Path) -> str:
    """The job's file, for `adaptune resume`; a job made in code is written to the state
    folder first (jobs/<name>.yaml), with its paths made absolute."""
    if job.source_file:
        return str(Path(job.source_file).resolve())
    out = state / "jobs" / f"{job.name}-{os.getpid()}-{id(job):x}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    job.to_yaml(out)
    return str(out)


def _overrides(job: JobSpec) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in job.overrides.items()]  # JSON is YAML


def load(
    name: str, tracking_uri: str | None = None, state_dir: str | Path | None = None
) -> SearchResult:
    """A past search or job by name (or run id), read from its MLflow store alone."""
    from adaptune import tracking
    from adaptune.result import load_result

    state = _state(state_dir)
    with library_mode(quiet=True, tune=False):
        return load_result(tracking.setup(tracking.resolve_uri(tracking_uri, state)), name, state)


class Submission:
    """A job submitted to a Ray cluster through the Ray Jobs SDK."""

    def __init__(self, submission_id: str, address: str, tracking_uri: str | None = None):
        self.id, self.address, self.tracking_uri = submission_id, address, tracking_uri

    def status(self) -> str:
        from adaptune import cluster

        return str(cluster.status(self.id, self.address)["status"])

    def logs(self, follow: bool = False) -> str:
        """The job's logs so far; `follow`: printed as they come, until the job ends."""
        from adaptune import cluster

        return cluster.logs(self.id, self.address, follow=follow)

    def wait(self, timeout_s: float | None = None, poll_s: float = 2.0) -> str:
        """Block until the job ends; returns its final status (SUCCEEDED, FAILED, STOPPED)."""
        import time

        started = time.monotonic()
        while (state := self.status()) not in ("SUCCEEDED", "FAILED", "STOPPED"):
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise TimeoutError(f"{self.id} still {state} after {timeout_s:g} s")
            time.sleep(poll_s)
        return state

    def result(self) -> SearchResult:
        """The search the job ran, from the tracking store the cluster wrote to."""
        if self.wait() != "SUCCEEDED":
            raise SearchFailed(f"{self.id} ended {self.status()}: see .logs()")
        return load(_searched(self.logs()), tracking_uri=self.tracking_uri)


def _searched(logs: str) -> str:
    """The search's name, from the driver's 'search NAME: N trials ...' line."""
    import re

    found = re.findall(r"^search (\S+): \d+ trials", logs, flags=re.M)
    if not found:
        raise LookupError("the job's logs name no finished search")
    return found[-1]


def submit(
    job: JobSpec | str | Path,
    address: str,
    *,
    tracking_uri: str | None = None,
    storage_path: str | None = None,
    trust_remote_code: bool = False,
    submission_id: str | None = None,
    excludes: list[str] | None = None,
) -> Submission:
    """Submit `job` (its file travels with its project folder) to the Ray cluster at
    `address`; returns a handle with status(), logs(), wait() and result()."""
    from adaptune import cluster

    if not isinstance(job, JobSpec):
        job = JobSpec.from_yaml(job)
    if not job.source_file:
        raise SpecError(
            [
                job.problem(
                    "",
                    "a job made in code has no file to travel: to_yaml() it into the project first",
                )
            ]
        )
    sid = cluster.submit(
        job.source_file,
        address,
        tracking_uri=tracking_uri,
        storage_path=storage_path,
        overrides=_overrides(job),
        submission_id=submission_id,
        trust_remote_code=trust_remote_code,
        excludes=excludes,
    )
    return Submission(sid, address, tracking_uri)
