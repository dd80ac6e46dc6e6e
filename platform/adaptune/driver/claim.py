"""A comparison's results record: one JSON file that holds everything its table is made
from, so that anyone can audit or re-render it (report/comparison.py).

    record = make_record(plans, summaries, client, origin)
    save_record(record, client, job_run_id, ledger="results")   # MLflow, and results/<job>.json

What it holds: the job, the command that ran it, the objective and the compared test
metrics, the primary contrast; per arm its search, resolved config, selection value, data
fingerprint, wall time, compute and cost, and one row per seeded re-run (seed id, the val
objective, every test metric); and where it was made: the git commit and whether the
tree was dirty, package versions, the machine. Means, intervals and tests are not stored:
they are computed from these rows wherever the table is shown.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from adaptune.driver.results import SearchSummary
from adaptune.method import test_name
from adaptune.plan import Plan
from adaptune.tracking.names import Tag

__all__ = ["SCHEMA", "make_record", "provenance", "save_record"]

SCHEMA = 1
PACKAGES = ("adaptune", "torch", "ray", "optuna", "mlflow", "transformers", "peft", "numpy")


def make_record(
    plans: list[Plan], summaries: list[SearchSummary], client: Any, origin: dict[str, Any]
) -> dict[str, Any]:
    job, plan = plans[0].job, plans[0]
    keys = [test_name(plan.metric)]
    keys += [test_name(m) for m in plan.method.compare_metrics if test_name(m) not in keys]
    return {
        "schema": SCHEMA,
        "job": job.job_name or job.name,
        "method": job.method,
        "command": _command(origin),
        "made_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "objective": {"metric": plan.metric, "mode": str(plan.mode)},
        "metrics": keys,
        "primary": list(job.primary) if job.primary else None,
        "data_note": _data_note(plan),
        "arms": [_arm(p, s, client) for p, s in zip(plans, summaries, strict=True)],
        "provenance": provenance(),
    }


def _arm(plan: Plan, s: SearchSummary, client: Any) -> dict[str, Any]:
    tags = client.get_run(s.parent_run_id).data.tags
    return {
        "name": plan.job.arm,
        "search": s.search,
        "config": plan.resolved(s.best_params) if s.best_trial else None,
        "val_best": s.best_value,
        "data_fingerprint": tags.get(Tag.DATA_FINGERPRINT, ""),
        "trials": s.trials,
        "wall_s": round(s.wall_s, 1),
        "resource_hours": s.resource_hours,
        "cost_usd": s.cost_usd,
        "seeds": [{k: v for k, v in r.items() if _plain(v)} for r in s.reruns],
    }


def _plain(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _data_note(plan: Plan) -> str:
    data = plan.job.data
    if data.path is None:  # made by the method's own generator
        return (
            f"data: the generated corpus `{data.source}` (n_train {data.n_train}, seed "
            f"{data.seed}), synthetic, designed to exhibit the method's mechanism, not the "
            "paper's benchmark."
        )
    where = os.path.relpath(data.path) if data.source != "hf" else data.path  # plan: absolute
    return f"data: `{data.source}` from `{data.path if where.startswith('..') else where}`."


def _command(origin: dict[str, Any]) -> str:
    job = str(origin.get("job", ""))
    if job and not os.path.relpath(job).startswith(".."):
        job = os.path.relpath(job)
    sets = "".join(f" --set {o}" for o in origin.get("overrides", []))
    return f"adaptune search {job}{sets}"


def provenance() -> dict[str, Any]:
    """Where a result was made: the git commit of adaptune's source tree (None outside a
    checkout) and whether it had uncommitted changes, package versions, the machine."""
    root = Path(__file__).resolve().parents[3]
    commit, dirty = None, None
    try:
        git = ["git", "-C", str(root)]
        commit = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout  # fmt: skip
        dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "commit": commit,
        "dirty": dirty,
        "python": platform.python_version(),
        "packages": versions,
        "machine": {"cpus": os.cpu_count(), "accelerator": _accelerator()},
    }


def _accelerator() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"


def save_record(
    record: dict[str, Any], client: Any, run_id: str, ledger: str | None = None
) -> Path | None:
    """Log the record on the job run (results/<job>.json) and, given a `ledger` folder,
    write it there too; the file written, or None."""
    name = f"{record['job']}.json"
    text = json.dumps(record, indent=1, sort_keys=True) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, name).write_text(text)
        client.log_artifact(run_id, str(Path(tmp, name)), artifact_path="results")
    if ledger is None:
        return None
    path = Path(ledger) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
