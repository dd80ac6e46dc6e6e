"""JobSpec -> Plan: every semantic check of a job, without starting Ray.

    plan = make_plan(load_job("jobs/quickstart.yaml"))   # raises SpecError

Checks: the method exists; every fixed and searched key is a field of the method's
config with a value of the right type and range (strict: job/values.py); nothing is both
fixed and searched; the metric is one the method reports; the sampler fits the space;
what the job names outside itself opens (data files, models: preflight.py); one trial's
resources fit this machine (or the cluster, checked again at search). The plan carries
the typed fixed values (``plan.job.fixed``) and the job's paths made absolute, next to the
job file (preflight.resolve_paths): what trials receive.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.distributions import BaseDistribution

from adaptune import domains
from adaptune.job.algorithms import objectives_of, search_problems
from adaptune.job.conditions import Conditions, conditions_from
from adaptune.job.objective import Bound, Mode, Objective, parse_bound
from adaptune.job.overrides import blame_override
from adaptune.job.space import grid_size, representative_values, space_from
from adaptune.job.spec import JobSpec, SpecError, SpecProblem
from adaptune.job.values import check_values
from adaptune.method import Method, make_config
from adaptune.preflight import PREVIOUS_STAGE, check_external, resolve_paths

__all__ = ["ON_CLUSTER", "Plan", "make_plan", "make_plans", "trial_resources"]

DEFAULT_NUM_SAMPLES = 16


@dataclass(frozen=True)
class Plan:
    job: JobSpec
    method: Method
    space: dict[str, BaseDistribution]
    space_file: str | None  # None: the space is held in the job (made in code)
    metric: str
    mode: Mode
    num_samples: int
    max_t: int  # epochs: ASHA's time unit
    # Every objective (metric, mode), the first the one schedulers stop on; more than one
    # = a Pareto front, and `metric`/`mode` above are the one the winner is picked on.
    objectives: tuple[Objective, ...]
    bounds: tuple[Bound, ...] = ()  # search.constraints, parsed: what a feasible trial meets
    pick_bound: Bound | None = None  # promote.pick.constraint: the winner meets it too
    conditions: Conditions = dataclasses.field(default_factory=dict)  # the space's `when`
    # What `trust_remote_code: true` lets run (confirmed on the command line), for validate
    # to say; None when no model code runs.
    remote_code: str | None = None

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def resolved(self, params: dict[str, Any]) -> dict[str, Any]:
        """The full config of a trial: defaults, then fixed values, then sampled ones."""
        cfg = make_config(self.method, {**self.job.fixed, **params})
        return dataclasses.asdict(cfg)


def trial_resources(job: JobSpec, use_gpu: bool) -> dict[str, float]:
    r = job.resources
    out = {"CPU": r.workers_per_trial * r.cpus_per_worker}
    if use_gpu:
        out["GPU"] = r.workers_per_trial * r.gpus_per_worker
    if r.accelerator_type:  # Ray's own convention: a sliver of the node's accelerator resource
        out[accelerator_resource(r.accelerator_type)] = r.workers_per_trial * ACCELERATOR_SHARE
    return out


ACCELERATOR_SHARE = 0.001  # what one worker asks of `accelerator_type:<name>` (as Ray Train)


def accelerator_resource(name: str) -> str:
    """Ray's resource on every node with that accelerator, e.g. accelerator_type:A10G."""
    return f"accelerator_type:{name}"


def _check_values(
    job: JobSpec,
    method: Method,
    space: dict[str, BaseDistribution],
    space_file: str,
    space_lines: dict[str, int],
) -> tuple[list[SpecProblem], dict[str, Any]]:
    """(problems, the fixed values typed: what trials receive)."""
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
        return problems, {}
    # Strictly type- and range-check fixed values and every searched value's extremes
    # (job/values.py); the fixed values come back typed.
    fixed, wrong = check_values(method.config_cls, job.fixed)
    problems = [job.problem(f"fixed.{k}" if k else "fixed", msg) for k, msg in wrong]
    if problems:
        return problems, {}
    for name, dist in space.items():
        for value in representative_values(dist):
            _, wrong = check_values(method.config_cls, {**fixed, name: value})
            if wrong:
                msg = next((m for k, m in wrong if k == name), wrong[0][1])
                msg = msg.removesuffix(f" (got {value!r})")
                line = space_lines.get(name)
                problems.append(SpecProblem(space_file, line, name, f"value {value!r}: {msg}"))
                break
    return problems, fixed


# make_plan's cluster for a search that goes to a Ray cluster (an address): what a trial
# needs is checked once connected, against its nodes and node types (driver/tuner.place),
# not against this machine (a laptop or a GPU-less head has no GPU; the cluster may)
ON_CLUSTER: dict[str, float] = {}


def check_resources(job: JobSpec, cluster: dict[str, float] | None) -> list[SpecProblem]:
    """One trial must fit: locally against this machine, else against the cluster given."""
    if cluster is ON_CLUSTER:
        return []
    if cluster is None:  # torch only when a GPU is demanded: validate stays light
        gpus = 0.0
        if job.resources.use_gpu is True:
            import torch

            gpus = float(torch.cuda.device_count())
        cluster = {"CPU": float(os.cpu_count() or 1), "GPU": gpus}
        if job.resources.accelerator_type:  # the cluster's nodes have it or not (place)
            cluster[accelerator_resource(job.resources.accelerator_type)] = math.inf
    problems = []
    if job.resources.use_gpu is True and cluster.get("GPU", 0) == 0:
        problems.append(
            job.problem(
                "resources.use_gpu", "true, but there is no GPU (use 'auto' to fall back to CPU)"
            )
        )
    need = trial_resources(job, not problems and uses_gpu(job, cluster))
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


def uses_gpu(job: JobSpec, cluster: dict[str, float]) -> bool:
    """Whether trials train on GPUs on this cluster: `use_gpu: true`, or `auto` and it has one."""
    use = job.resources.use_gpu
    return use is True or (use == "auto" and cluster.get("GPU", 0) > 0)


def make_plan(
    job: JobSpec, cluster: dict[str, float] | None = None, *, trust_remote_code: bool = False
) -> Plan:
    """All semantic checks; raises SpecError listing every problem found. The plan's
    ``job.fixed`` are the checked, typed values: what trials receive. `trust_remote_code`:
    the user confirmed that a model folder's own code may run (--trust-remote-code)."""
    from adaptune.methods import get_method

    try:
        method = get_method(job.method)
    except KeyError as e:
        raise SpecError([job.problem("method", str(e.args[0]))]) from None
    try:
        return _make_plan(job, method, cluster, trust_remote_code)
    except SpecError as e:  # a space held in the job: its problems name dotted keys
        raise SpecError([_in_job(job, p) for p in e.problems]) from None


IN_JOB = "<search.space>"  # the space file's name while a space held in the job is checked


def _in_job(job: JobSpec, problem: SpecProblem) -> SpecProblem:
    if problem.file != IN_JOB:
        return problem
    return job.problem(f"search.space.{problem.key}".rstrip("."), problem.message)


def _read_space(job: JobSpec) -> tuple[dict[str, Any], dict[str, int], str]:
    """The space's entries, their lines and its file (IN_JOB for a space in the job)."""
    from adaptune.job.spec import load_yaml

    raw = job.the_search.space
    if isinstance(raw, dict):
        return raw, {}, IN_JOB
    space_path = Path(raw)  # absolute: resolve_paths
    if not space_path.exists():
        raise SpecError([job.problem("search.space", f"file not found: {space_path}")])
    rel = os.path.relpath(space_path)
    space_file = str(space_path) if rel.startswith("..") else rel
    return *load_yaml(space_file), space_file


def _make_plan(
    job: JobSpec, method: Method, cluster: dict[str, float] | None, trust_remote_code: bool
) -> Plan:
    job, problems = resolve_paths(job)
    if problems:
        raise SpecError(problems)
    entries, space_lines, space_file = _read_space(job)
    space = space_from(entries, space_lines, space_file)
    conditions = conditions_from(entries, space_lines, space_file, space)
    problems, fixed = _check_values(job, method, space, space_file, space_lines)
    remote_code = None
    if not problems:  # what is outside the job file, once its values are known good
        job = job.model_copy(update={"fixed": fixed})
        checked = check_external(
            job, method, space, space_file, space_lines, trust_remote_code=trust_remote_code
        )
        problems, remote_code = checked.problems, checked.remote_code
        job = job.model_copy(update={"fixed": checked.fixed})
    metrics = [*method.metrics, *domains.names(method.metrics, method.metric)]
    objectives, wrong = objectives_of(job, method.name, method.metric, method.mode, metrics)
    problems += wrong
    num_samples = job.the_search.num_samples or DEFAULT_NUM_SAMPLES
    if job.the_search.sampler == "grid":
        try:
            size = grid_size(space)
            num_samples = job.the_search.num_samples or size
        except ValueError as e:
            problems.append(job.problem("search.sampler", str(e)))
    problems += check_resources(job, cluster)
    if problems:
        raise SpecError(problems)
    epochs_dist = space.get("epochs")
    epochs = (  # the most epochs a trial trains
        int(getattr(epochs_dist, "high", 0) or max(getattr(epochs_dist, "choices", [1])))
        if epochs_dist is not None
        else make_config(method, job.fixed).epochs
    )
    max_t = job.the_search.scheduler.max_t or epochs
    problems = search_problems(job, metrics, objectives, max_t, epochs, bool(conditions))
    if problems:
        raise SpecError(problems)
    pick = job.promote.pick
    metric, mode = next((o for o in objectives if pick and o[0] == pick.metric), objectives[0])
    return Plan(
        job,
        method,
        space,
        None if space_file == IN_JOB else space_file,
        metric,
        mode,
        num_samples,
        max_t,
        tuple(objectives),
        tuple(parse_bound(text) for text in job.the_search.constraints),
        parse_bound(pick.constraint) if pick and pick.constraint else None,
        conditions,
        remote_code,
    )


def make_plans(
    job: JobSpec, cluster: dict[str, float] | None = None, *, trust_remote_code: bool = False
) -> list[Plan]:
    """One plan per stage, or per arm of a comparison (a plain job has one); every plan is
    checked before any runs."""
    plans: list[Plan] = []
    problems: list[SpecProblem] = []
    if job.arms and job.final.seeds < 2:  # the comparison's tests pair seeded re-runs
        problems.append(job.problem("final.seeds", "a comparison (arms) needs final.seeds >= 2"))
    if job.promote.enabled and job.promote.rule != "better" and job.final.seeds < 2:
        problems.append(
            job.problem(
                "promote.rule",
                f"{job.promote.rule} needs final.seeds >= 2 (got {job.final.seeds}): its test "
                "compares the seeded re-runs' val scores, so nothing could be promoted; add final: "
                "{seeds: 2} or more, or use rule: better",
            )
        )
    views = job.arm_views() if job.arms else job.stage_views()
    for i, view in enumerate(views):
        if i > 0 and not job.arms:  # the previous stage's model arrives at run time
            view = view.model_copy(update={"fixed": {"init_from": PREVIOUS_STAGE, **view.fixed}})
        try:
            plan = make_plan(view, cluster, trust_remote_code=trust_remote_code)
        except SpecError as e:
            problems += e.problems
            continue
        fields = {f.name for f in dataclasses.fields(plan.method.config_cls)}
        if i > 0 and not job.arms and "init_from" not in fields:
            problems.append(
                job.problem(
                    f"stages.{i}",
                    f"{plan.method.name} cannot start a "
                    "stage from a previous one (no 'init_from' field)",
                )
            )
        plans.append(plan)
    if problems:  # stages sharing a space file or the resources would repeat a problem
        raise SpecError([_blame(p, job) for p in dict.fromkeys(problems)])
    return plans


def _blame(problem: SpecProblem, job: JobSpec) -> SpecProblem:
    """A problem an override caused, told as the override's (job/overrides.py), with the
    closest config field for a mistyped fixed.<field>."""
    import difflib

    blamed = blame_override(problem, job.overrides)
    if blamed is problem or not problem.key.startswith("fixed."):
        return blamed
    from adaptune.methods import METHODS

    if job.method not in METHODS:
        return blamed
    fields = [f.name for f in dataclasses.fields(METHODS[job.method].config_cls)]
    name = problem.key.split(".", 1)[1]
    close = difflib.get_close_matches(name, fields, n=1, cutoff=0.5)
    hint = (
        f" (did you mean 'fixed.{close[0]}'?)"
        if close and name not in fields and "did you mean" not in blamed.message
        else ""
    )
    return SpecProblem(blamed.file, blamed.line, blamed.key, blamed.message + hint)
