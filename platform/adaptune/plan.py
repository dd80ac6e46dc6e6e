"""JobSpec -> Plan: every semantic check of a job, without starting Ray.

    plan = make_plan(load_job("jobs/quickstart.yaml"))   # raises SpecError

Checks: the method exists; every fixed and searched key is a field of the method's
config with a value of the right type; nothing is both fixed and searched; the
metric is one the method reports; the sampler fits the space; data files exist;
one trial's resources fit this machine (or the cluster, checked again at search).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution
from pydantic import TypeAdapter, ValidationError

from adaptune.job.space import grid_size, load_space, representative_values
from adaptune.job.spec import JobSpec, SpecError, SpecProblem
from adaptune.method import Method, make_config

__all__ = ["Plan", "make_plan", "make_plans", "trial_resources"]

DEFAULT_NUM_SAMPLES = 16


@dataclass(frozen=True)
class Plan:
    job: JobSpec
    method: Method
    space: dict[str, BaseDistribution]
    space_file: str
    metric: str
    mode: str
    num_samples: int
    max_t: int  # epochs: ASHA's time unit

    def resolved(self, params: dict[str, Any]) -> dict[str, Any]:
        """The full config of a trial: defaults, then fixed values, then sampled ones."""
        cfg = make_config(self.method, {**self.job.fixed, **params})
        return dataclasses.asdict(cfg)


def trial_resources(job: JobSpec, use_gpu: bool) -> dict[str, float]:
    r = job.resources
    out = {"CPU": r.workers_per_trial * r.cpus_per_worker}
    if use_gpu:
        out["GPU"] = r.workers_per_trial * r.gpus_per_worker
    return out


def _check_values(
    job: JobSpec,
    method: Method,
    space: dict[str, BaseDistribution],
    space_file: str,
    space_lines: dict[str, int],
) -> list[SpecProblem]:
    fields = {f.name: f for f in dataclasses.fields(method.config_cls)}
    problems = []
    for key in job.fixed:
        if key not in fields:
            problems.append(job.problem(f"fixed.{key}", f"not a {method.name} config field"))
    for key in space:
        if key not in fields:
            problems.append(
                SpecProblem(
                    space_file, space_lines.get(key), key, f"not a {method.name} config field"
                )
            )
        if key in job.fixed:
            problems.append(
                job.problem(f"fixed.{key}", f"both fixed and searched (in {space_file})")
            )
    if problems:
        return problems
    problems += _type_check(job, method, space, space_file, space_lines)
    return problems


def _type_check(
    job: JobSpec,
    method: Method,
    space: dict[str, BaseDistribution],
    space_file: str,
    space_lines: dict[str, int],
) -> list[SpecProblem]:
    """Type- and range-check fixed values and every searched value's extremes."""
    adapter: TypeAdapter[Any] = TypeAdapter(method.config_cls)
    problems: list[SpecProblem] = []
    try:
        adapter.validate_python(dict(job.fixed))
    except ValidationError as e:
        for err in e.errors():
            key = ".".join(["fixed", *(str(p) for p in err["loc"])])
            if not err["loc"]:  # a __post_init__ check: the config as a whole
                key = _culprit(adapter, job.fixed)
            problems.append(job.problem(key, err["msg"]))
    except ValueError as e:  # the config's own __post_init__ checks
        problems.append(job.problem(_culprit(adapter, job.fixed), str(e)))
    if problems:
        return problems
    for name, dist in space.items():
        for value in representative_values(dist):
            try:
                adapter.validate_python({**job.fixed, name: value})
            except ValidationError as e:
                msg = e.errors()[0]["msg"]
                problems.append(
                    SpecProblem(space_file, space_lines.get(name), name, f"value {value!r}: {msg}")
                )
                break
            except ValueError as e:
                problems.append(
                    SpecProblem(space_file, space_lines.get(name), name, f"value {value!r}: {e}")
                )
                break
    return problems


def _culprit(adapter: TypeAdapter[Any], fixed: dict[str, Any]) -> str:
    """The fixed key a whole-config check refused: the first that fails on its own."""
    for key, value in fixed.items():
        try:
            adapter.validate_python({key: value})
        except ValueError:  # ValidationError included
            return f"fixed.{key}"
    return "fixed"


def check_resources(job: JobSpec, cluster: dict[str, float] | None) -> list[SpecProblem]:
    """One trial must fit: locally against this machine, else against the cluster given."""
    if cluster is None:  # torch only when a GPU is demanded: validate stays light
        gpus = 0.0
        if job.resources.use_gpu is True:
            import torch

            gpus = float(torch.cuda.device_count())
        cluster = {"CPU": float(os.cpu_count() or 1), "GPU": gpus}
    use_gpu = job.resources.use_gpu
    problems = []
    if use_gpu is True and cluster.get("GPU", 0) == 0:
        problems.append(
            job.problem(
                "resources.use_gpu", "true, but there is no GPU (use 'auto' to fall back to CPU)"
            )
        )
    need = trial_resources(job, use_gpu is True and not problems)
    for res, amount in need.items():
        have = cluster.get(res, 0.0)
        if amount > have:
            problems.append(
                job.problem(
                    "resources",
                    f"one trial needs {amount:g} {res} "
                    f"({job.resources.workers_per_trial} workers), the cluster has {have:g}",
                )
            )
    return problems


def make_plan(job: JobSpec, cluster: dict[str, float] | None = None) -> Plan:
    """All semantic checks; raises SpecError listing every problem found."""
    from adaptune.job.spec import load_yaml
    from adaptune.methods import get_method

    try:
        method = get_method(job.method)
    except KeyError as e:
        raise SpecError([job.problem("method", str(e.args[0]))]) from None
    space_path = job.resolve_path(job.the_search.space)
    if not space_path.exists():
        raise SpecError([job.problem("search.space", f"file not found: {space_path}")])
    rel = os.path.relpath(space_path)
    space_file = str(space_path) if rel.startswith("..") else rel
    space = load_space(space_file)
    _, space_lines = load_yaml(space_file)
    problems = _check_values(job, method, space, space_file, space_lines)
    metric = job.the_search.metric or method.metric
    mode = job.the_search.mode or (method.mode if job.the_search.metric is None else None)
    if metric not in method.metrics:
        problems.append(
            job.problem(
                "search.metric",
                f"'{metric}' is not reported by "
                f"{method.name}; choose from {', '.join(method.metrics)}",
            )
        )
    if mode is None:
        problems.append(job.problem("search.mode", "required when a metric is given (min|max)"))
    num_samples = job.the_search.num_samples or DEFAULT_NUM_SAMPLES
    if job.the_search.sampler == "grid":
        try:
            size = grid_size(space)
            num_samples = job.the_search.num_samples or size
        except ValueError as e:
            problems.append(job.problem("search.sampler", str(e)))
    if job.data.source in ("file", "hf") and not job.data.path:
        what = "a local file" if job.data.source == "file" else "a dataset name"
        problems.append(job.problem("data", f"source '{job.data.source}' needs 'path' ({what})"))
    elif job.data.source == "file" and not job.resolve_path(str(job.data.path)).exists():
        problems.append(
            job.problem("data.path", f"file not found: {job.resolve_path(str(job.data.path))}")
        )
    problems += check_resources(job, cluster)
    if problems:
        raise SpecError(problems)
    epochs_dist = space.get("epochs")
    max_t = (
        int(getattr(epochs_dist, "high", 0) or max(getattr(epochs_dist, "choices", [1])))
        if epochs_dist is not None
        else make_default(method, job.fixed).epochs
    )
    max_t = job.the_search.scheduler.max_t or max_t
    return Plan(job, method, space, space_file, metric, str(mode), num_samples, max_t)


def make_plans(job: JobSpec, cluster: dict[str, float] | None = None) -> list[Plan]:
    """One plan per stage (a plain job has one); every stage is checked before any runs."""
    plans: list[Plan] = []
    problems: list[SpecProblem] = []
    for i, view in enumerate(job.stage_views()):
        if i > 0:  # the previous stage's best model arrives at run time (stages.inherit)
            view = view.model_copy(
                update={"fixed": {"init_from": "<previous stage's best model>", **view.fixed}}
            )
        try:
            plan = make_plan(view, cluster)
        except SpecError as e:
            problems += e.problems
            continue
        fields = {f.name for f in dataclasses.fields(plan.method.config_cls)}
        if i > 0 and "init_from" not in fields:
            problems.append(
                job.problem(
                    f"stages.{i}",
                    f"{plan.method.name} cannot start a "
                    "stage from a previous one (no 'init_from' field)",
                )
            )
        plans.append(plan)
    if problems:  # stages sharing a space file or the resources would repeat a problem
        raise SpecError(list(dict.fromkeys(problems)))
    return plans


def make_default(method: Method, fixed: dict[str, Any]) -> Any:
    return make_config(method, fixed)
