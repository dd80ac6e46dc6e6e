"""Ray Jobs SDK: submit a search to a Ray cluster, and follow, inspect or stop it.

    sid = submit("jobs/quickstart.yaml", "http://127.0.0.1:8265",
                 tracking_uri="http://mlflow.internal:5000")
    status(sid, address); print(logs(sid, address)); stop(sid, address)

The job is validated here first (a bad spec never reaches the cluster). The project
travels as the job's ``working_dir`` (venvs, state, caches and VCS folders excluded, and
whatever ``excludes`` adds; measured first, and refused over Ray's limit) and the
package as a ``py_module`` so that every trial actor and Train worker can import it;
the tracking URI, MLflow's credentials ($MLFLOW_TRACKING_USERNAME/PASSWORD, also taken
from a URI's user:password@) and the storage path travel as environment variables: none in
the entrypoint, though Ray keeps the job's runtime_env where its dashboard shows it.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from adaptune.credentials import PASSWORD_ENV, USERNAME_ENV, adopt_uri_credentials
from adaptune.workdir import check_size

__all__ = ["checked_job", "logs", "project_root", "status", "stop", "submit"]

EXCLUDES = [
    ".venv/",
    ".adaptune/",
    ".git/",
    ".gpu/",
    "__pycache__/",
    "*.egg-info/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    "mlruns/",
]
# How long a fresh cluster may take to register its head node's job agent.
AGENT_WAIT_S = 300.0
# Variables a search needs on the cluster when they are set here.
PASSED_ENV = (
    "MLFLOW_TRACKING_URI",
    USERNAME_ENV,
    PASSWORD_ENV,
    "ADAPTUNE_STORAGE_PATH",
    "HF_HUB_OFFLINE",
    "HF_HOME",
)


def project_root(job_file: Path) -> Path:
    """The folder holding the job: the nearest parent with a pyproject.toml, else cwd."""
    for parent in job_file.resolve().parents:
        if (parent / "pyproject.toml").exists():
            return parent
    return Path.cwd()


def checked_job(
    job_file: str, overrides: list[str] | None = None, *, trust_remote_code: bool = False
) -> Path:
    """The job validated here, as a cluster would run it (SpecError when it is not), and
    its path inside its project folder: what a cluster runs it by. ValueError for a job
    outside its project folder (the folder is what travels, as files or as an image)."""
    from adaptune.job.overrides import parse_override
    from adaptune.job.spec import load_job
    from adaptune.plan import make_plans

    sets = dict(parse_override(s) for s in overrides or [])
    everything = {"CPU": float("inf"), "GPU": float("inf")}
    make_plans(load_job(job_file, sets), everything, trust_remote_code=trust_remote_code)
    root = project_root(Path(job_file))
    try:
        return Path(job_file).resolve().relative_to(root)
    except ValueError:
        raise ValueError(
            f"{job_file}: outside the project folder {root}, which is what travels to the "
            "cluster; move the job (and its search space) into the project"
        ) from None


def _client(address: str) -> Any:
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address)


def submit(
    job_file: str,
    address: str,
    *,
    tracking_uri: str | None = None,
    storage_path: str | None = None,
    overrides: list[str] | None = None,
    submission_id: str | None = None,
    trust_remote_code: bool = False,
    excludes: list[str] | None = None,
) -> str:
    """Submit `adaptune search JOB` as a Ray job; returns the submission id. Raises
    ValueError for a job file outside its project folder (the folder is what travels)
    or a working_dir over Ray's size limit (workdir.py; `excludes`, gitignore patterns,
    add to EXCLUDES)."""
    import adaptune

    rel = checked_job(job_file, overrides, trust_remote_code=trust_remote_code)
    root = project_root(Path(job_file))
    skipped = [*EXCLUDES, *(e for e in excludes or [] if e not in EXCLUDES)]
    check_size(root, skipped)  # before the upload, naming what is large
    tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if tracking_uri:  # its user:password@, if any, into MLflow's variables (read below)
        tracking_uri = adopt_uri_credentials(tracking_uri)
    env = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    if storage_path:
        env["ADAPTUNE_STORAGE_PATH"] = storage_path
    args = ["python", "-m", "adaptune", "search", str(rel)]
    for s in overrides or []:
        args += ["--set", s]
    if trust_remote_code:
        args.append("--trust-remote-code")
    runtime_env = {
        "working_dir": str(root),
        "excludes": skipped,
        "py_modules": [str(Path(adaptune.__file__).parent)],
        "env_vars": env,
    }
    client = _client(address)
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        try:
            return str(
                client.submit_job(
                    entrypoint=shlex.join(args),
                    runtime_env=runtime_env,
                    submission_id=submission_id,
                    metadata={"adaptune_job": str(rel)},
                )
            )
        except RuntimeError as e:  # a fresh cluster's job agents take a moment to register
            if "No available agent" not in str(e):
                raise
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{e} The head node's job agent did not register in {AGENT_WAIT_S:.0f} s: "
                    "see dashboard_agent.log in the head's Ray log folder (an agent that "
                    "cannot bind its port, 52365 unless --dashboard-agent-listen-port says "
                    "otherwise, e.g. held by another Ray on that machine, serves no jobs)."
                ) from e
            time.sleep(2)


def status(submission_id: str, address: str) -> dict[str, Any]:
    info = _client(address).get_job_info(submission_id)
    return {
        "submission_id": submission_id,
        "status": str(info.status.value),
        "message": info.message,
        "entrypoint": info.entrypoint,
        "start_time": info.start_time,
        "end_time": info.end_time,
    }


def logs(submission_id: str, address: str, follow: bool = False) -> str:
    client = _client(address)
    if not follow:
        return str(client.get_job_logs(submission_id))

    async def tail() -> None:
        async for chunk in client.tail_job_logs(submission_id):
            sys.stdout.write(chunk)
            sys.stdout.flush()

    asyncio.run(tail())
    return ""


def stop(submission_id: str, address: str) -> bool:
    return bool(_client(address).stop_job(submission_id))
