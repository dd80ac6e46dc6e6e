"""The Method contract: what the platform needs to know to train and track a method.

A method is one frozen dataclass of plain functions. The method owns its model, data
and step (that is where DAO, DAMA, MAD and DALLMi differ); the platform owns the
epoch loop, devices, distribution, reporting and tracking (``worker.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from adaptune.job.objective import Mode

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["MODEL_METADATA", "Method", "Mode", "Optimizers", "Splits", "lazy", "make_config"]

# In every saved model directory: {"method": name}; the served model reads it to find
# the method's predictor (serving.py), the next stage to find its base.
MODEL_METADATA = "adaptune.json"


class Splits(NamedTuple):
    """What build_data returns. train drives the optimiser, val drives samplers,
    schedulers and selection, test is scored once by the chosen model (and its seeded
    re-runs) after the search; info is the data's metadata (fingerprint, sizes, ...).
    A split read from files may carry `loader_options` (DataLoader keywords: num_workers,
    pin_memory): the worker's val and test loaders pass them."""

    train: Any
    val: Any
    test: Any
    info: dict[str, Any]


@dataclass
class Optimizers:
    """Every optimiser and LR scheduler a step uses; schedulers step once per batch."""

    optimizers: list[torch.optim.Optimizer]
    schedulers: list[Any] = field(default_factory=list)

    def zero_grad(self) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()
        for sched in self.schedulers:
            sched.step()


@dataclass(frozen=True)
class Method:
    name: str  # == folder == search_spaces/<name>.yaml
    config_cls: type  # frozen dataclass; its defaults are a sane single run
    # (cfg, DataSpec, cache_dir) -> Splits(train, val, test Datasets, data_info dict)
    build_data: Callable[..., Splits]
    build_model: Callable[[Any, dict[str, Any]], nn.Module]  # (cfg, data_info)
    build_optimizers: Callable[[nn.Module, Any, int], Optimizers]  # (model, cfg, total_steps)
    # (model, batch, optimisers, cfg) -> logs: floats or 0-d tensors (left on the device so
    # the host need not wait; the worker sums them, checks "loss" is finite, reads once).
    train_step: Callable[[nn.Module, Any, Optimizers, Any], dict[str, Any]]
    # (model, loader, cfg) -> "val/<name>" metrics; on the test split the worker renames
    # them "test/<name>" (one evaluate serves both)
    evaluate: Callable[[nn.Module, Any, Any], dict[str, float]]
    save_model: Callable[[nn.Module, Any, dict[str, Any], str], None]  # (..., directory)
    load_predictor: Callable[[str], Callable[[Any], Any]]  # directory -> predict(DataFrame)
    metric: str  # default objective, e.g. "val/mse"
    mode: Mode  # Mode.MIN | Mode.MAX ("min" / "max" are taken too)
    metrics: Sequence[str] = ()  # every metric evaluate() reports, for validation
    # The "val/<name>" metrics a comparison job tables on test beside the objective (each
    # with its interval and paired tests): the ones a method's claims are read from.
    compare_metrics: Sequence[str] = ()
    description: str = ""
    # What build_data reads, checked by `validate` before anything starts (adaptune.preflight):
    # its data.source values ("file" and "hf" go through data/loaders.py); the data.options
    # keys it reads (an "hf" source hands any others to datasets.load_dataset); and the
    # columns a "file"/"hf" source must have, ours -> kind (job/datafile.py KINDS:
    # text, score, class, labels, name); data.columns maps them to the file's own names.
    data_sources: tuple[str, ...] = ()
    data_options: tuple[str, ...] = ()
    # The bounds of numeric data.options, low..high inclusive (int bounds: a whole number):
    # a generated corpus sized by an unchecked option could ask for terabytes.
    data_option_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    data_columns: tuple[tuple[str, str], ...] = ()
    # Optional: (DataSpec, fixed values) -> [(job key, message)], the method's own checks of
    # what the job names outside its file (an image folder's layout, a checkpoint's
    # shapes), run by validate before Ray (preflight.py); fixed paths are absolute by then.
    check_inputs: Callable[[Any, dict[str, Any]], list[tuple[str, str]]] | None = None
    # Optional: (train Dataset, cfg, torch.Generator, rank, world_size) -> DataLoader, for
    # methods whose batches are composed (e.g. label-balanced). It must shard by rank
    # itself; the default is a shuffled DataLoader with a DistributedSampler.
    train_loader: Callable[..., Any] | None = None
    # Optional: the test split's evaluation, when `evaluate` acts on what it measures (DAMA's
    # stage 2 moves lambda by the dev score): same arguments and "val/" names, no effects.
    evaluate_test: Callable[[nn.Module, Any, Any], dict[str, float]] | None = None
    # Optional: what one prediction request holds, in plain lists and dicts (no pandas):
    # a list of texts, or a list of records whose first field is required. The logged
    # model's signature and input example are made from it (tracking.store.signature_of).
    input_example: Any = None
    # Optional: (rows, directory) -> None, after a search: one row per trial with its
    # "trial_id", "outcome" (completed | stopped | errored), "config" and last "metrics";
    # files written to the directory are logged to the search run under report/.
    search_report: Callable[[list[dict[str, Any]], str], None] | None = None
    # Optional: (model) -> {name: [(optimiser step, value), ...]}, the per-step values the
    # model recorded since the last call; sent with each epoch's report and logged to the
    # trial run as "<method>_step/<name>" series (DAO's dao_step/w_c, alpha, beta: a
    # collapse is a curve; step = the optimiser step).
    step_series: Callable[[nn.Module], dict[str, list[tuple[int, float]]]] | None = None
    # Optional: (arms, directory) -> JobReport | None, after a multi-stage or comparison
    # job: the method's comparison of its stages or arms (Arm: the platform fetched each
    # one's best run and per-seed test rows). Files written to the directory go to the
    # job run's report/; the JobReport's tags (under adaptune.<method>.<key>) and metrics
    # to the job run; its summary lines are printed.
    job_report: Callable[[list[Arm], str], JobReport | None] | None = None
    # Optional: (DataSpec) -> {split: {"text": [...], "label": [...], "domain": [...]}}, the
    # splits build_data makes as plain lists (label: a class, or a list of labels; domain
    # where the method has domains), read by `adaptune data` (adaptune/data/checks.py).
    read_splits: Callable[[Any], dict[str, dict[str, list[Any]]]] | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"Method {self.name!r}: mode {self.mode!r} must be 'min' or 'max'")
        object.__setattr__(self, "mode", Mode(self.mode))  # a plain "max" works too


@dataclass(frozen=True)
class Arm:
    """One stage or arm of a job, as Method.job_report receives it."""

    name: str  # the arm's name, or "stage <i>"
    params: dict[str, str]  # its best trial's params
    metrics: dict[str, float]  # its best trial's last metrics (val/... and test/...)
    # One row per seed: "seed" and the test/<metric>s of the seeded re-runs of its best
    # config (final.seeds), else of the best trial alone. Pair arms by "seed", not position.
    seeds: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class JobReport:
    """What a job_report hands back; the platform writes it on the job run."""

    tags: dict[str, str] = field(default_factory=dict)  # key -> value, as adaptune.<method>.<key>
    metrics: dict[str, float] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)  # printed after the job


VAL_PREFIX = "val/"
TEST_PREFIX = "test/"


def test_name(metric: str) -> str:
    """A metric's name on the test split: `evaluate` reports val/<name>; the worker scores
    the test split with the same function and reports test/<name> (val/mse -> test/mse)."""
    return TEST_PREFIX + metric.removeprefix(VAL_PREFIX)


def make_config(method: Method, params: dict[str, Any]) -> Any:
    """The method's config from plain values (YAML lists become tuples where fields are)."""
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(method.config_cls)}
    values = {
        k: tuple(v) if isinstance(v, list) and "tuple" in str(fields[k].type) else v
        for k, v in params.items()
    }
    return method.config_cls(**values)


def lazy(target: str) -> Callable[..., Any]:
    """The function ``"package.module:name"``, imported at its first call. Method folders
    register their hooks this way, so listing methods or validating a job imports no
    torch (``adaptune validate`` answers in about a second)."""
    import importlib

    module, _, name = target.partition(":")
    found: list[Callable[..., Any]] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not found:
            found.append(getattr(importlib.import_module(module), name))
        return found[0](*args, **kwargs)

    call.__qualname__ = call.__name__ = target
    return call
