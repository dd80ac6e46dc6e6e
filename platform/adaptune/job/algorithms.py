"""Search algorithms as a job names them, checked: sampler options, schedulers, objectives,
constraints and the Pareto pick. Nothing is built here (driver/tuner.py builds the Optuna
sampler and the Ray scheduler); every problem names file, line and key.

    objectives, problems = objectives_of(job, "mad", "val/acc", "max", METRICS)
    problems += search_problems(job, METRICS, objectives, max_t, epochs, conditional=True)

    search:
      sampler: tpe
      sampler_options: {n_startup_trials: 3, multivariate: true, group: true}
      metric: [val/acc, val/params_adapter]      # a list: a Pareto front
      mode: [max, min]
      constraints: ["val/params_adapter <= 250000"]
      scheduler: {type: hyperband, reduction_factor: 3}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adaptune.job.budget import budget_problems
from adaptune.job.objective import Mode, Objective, parse_bound
from adaptune.job.spec import JobSpec, SpecProblem

__all__ = [
    "SAMPLER_OPTIONS",
    "objectives_of",
    "sampler_options",
    "search_problems",
]


class _Options(BaseModel):
    """Options as Optuna 5.0 takes them; those it deprecated (TPE's prior_weight,
    consider_endpoints, consider_magic_clip, warn_independent_sampling; CMA-ES's sigma0,
    x0, restart_strategy) are not offered."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# Bounds past sense: a search runs at most 100,000 trials (spec.py's num_samples), and
# TPE's candidates and CMA-ES's population are arrays allocated at the first suggestion
# (TPE: candidates x earlier trials per parameter), so a typo there asks for gigabytes.
MOST_TRIALS = 100_000
MOST_CANDIDATES = 10_000


class TPEOptions(_Options):
    n_startup_trials: int = Field(10, ge=0, le=MOST_TRIALS)  # random trials before TPE models
    n_ei_candidates: int = Field(24, ge=1, le=MOST_CANDIDATES)
    # One joint density rather than one per parameter; Optuna 5.0's default: true for one
    # objective, false for several.
    multivariate: bool | None = None
    group: bool = False  # multivariate per group of parameters that occur together
    constant_liar: bool = True  # running trials count as bad: parallel trials spread out

    @model_validator(mode="after")
    def _group(self) -> TPEOptions:
        if self.group and self.multivariate is False:
            raise ValueError("group: true needs the multivariate TPE (multivariate: false given)")
        return self


class GPOptions(_Options):
    n_startup_trials: int = Field(10, ge=0, le=MOST_TRIALS)
    deterministic_objective: bool = False
    warn_independent_sampling: bool = True


class NSGA2Options(_Options):
    population_size: int = Field(50, ge=2, le=MOST_TRIALS)
    mutation_prob: float | None = Field(None, ge=0.0, le=1.0)
    crossover: Literal["uniform", "blxalpha", "sbx", "vsbx"] = "uniform"
    crossover_prob: float = Field(0.9, ge=0.0, le=1.0)
    swapping_prob: float = Field(0.5, ge=0.0, le=1.0)


class CmaEsOptions(_Options):
    n_startup_trials: int = Field(1, ge=0, le=MOST_TRIALS)
    popsize: int | None = Field(None, ge=2, le=MOST_CANDIDATES)
    use_separable_cma: bool = False
    with_margin: bool = False
    lr_adapt: bool = False
    consider_pruned_trials: bool = False
    warn_independent_sampling: bool = True


class QMCOptions(_Options):
    qmc_type: Literal["sobol", "halton"] = "sobol"
    scramble: bool = False
    warn_independent_sampling: bool = True


class NoOptions(_Options):
    pass


SAMPLER_OPTIONS: dict[str, type[_Options]] = {
    "tpe": TPEOptions,
    "gp": GPOptions,
    "nsga2": NSGA2Options,
    "cmaes": CmaEsOptions,
    "qmc": QMCOptions,
    "random": NoOptions,
    "grid": NoOptions,
}
MULTI_OBJECTIVE_SAMPLERS = ("tpe", "nsga2", "gp", "random", "qmc", "grid")


def sampler_options(sampler: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options given, checked (raises ValidationError); only those set by the job."""
    checked = SAMPLER_OPTIONS[sampler].model_validate(options)
    return checked.model_dump(exclude_unset=True)


def _option_problems(job: JobSpec) -> list[SpecProblem]:
    s = job.the_search
    model = SAMPLER_OPTIONS[s.sampler]
    takes = ", ".join(model.model_fields) or "no options"
    problems = []
    for name in s.sampler_options:
        if name not in model.model_fields:
            problems.append(
                job.problem(
                    f"search.sampler_options.{name}",
                    f"not an option of the {s.sampler} sampler (it takes: {takes})",
                )
            )
    if problems:
        return problems
    try:
        model.model_validate(s.sampler_options)
    except ValidationError as e:
        for err in e.errors():
            key = ".".join(["search.sampler_options", *(str(p) for p in err["loc"])])
            problems.append(job.problem(key, err["msg"].removeprefix("Value error, ")))
    return problems


# ---------------------------------------------------------------- objectives, bounds


def _listed(value: Any) -> list[Any] | None:
    return None if value is None else (list(value) if isinstance(value, list) else [value])


def objectives_of(
    job: JobSpec, method: str, default_metric: str, default_mode: Mode, metrics: Sequence[str]
) -> tuple[list[Objective], list[SpecProblem]]:
    """The search's objectives, in order (the first is the one schedulers stop on)."""
    s = job.the_search
    names = _listed(s.metric) or [default_metric]
    modes = _listed(s.mode) or ([default_mode] if s.metric is None else [])
    problems: list[SpecProblem] = []
    if not modes:
        problems.append(job.problem("search.mode", "required when a metric is given (min|max)"))
    elif isinstance(s.metric, list) != isinstance(s.mode, list) or len(modes) != len(names):
        problems.append(
            job.problem(
                "search.mode",
                f"give one mode per metric ({len(names)} metric(s), {len(modes)} mode(s))",
            )
        )
    for i, name in enumerate(names):
        key = f"search.metric.{i}" if isinstance(s.metric, list) else "search.metric"
        if name not in metrics:
            problems.append(
                job.problem(
                    key, f"'{name}' is not reported by {method}; choose from {', '.join(metrics)}"
                )
            )
        elif names.index(name) != i:
            problems.append(job.problem(key, f"'{name}' is given twice"))
    if problems:
        return [], problems
    return [(n, Mode(m)) for n, m in zip(names, modes, strict=True)], []


def _bound_problems(job: JobSpec, key: str, text: str, metrics: Sequence[str]) -> list[SpecProblem]:
    try:
        bound = parse_bound(text)
    except ValueError as e:
        return [job.problem(key, str(e))]
    if bound.metric not in metrics:
        return [job.problem(key, f"'{bound.metric}' is not reported by the method")]
    return []


def _objective_problems(
    job: JobSpec, objectives: list[Objective], metrics: Sequence[str]
) -> list[SpecProblem]:
    s, pick = job.the_search, job.promote.pick
    problems = []
    for i, text in enumerate(s.constraints):
        problems += _bound_problems(job, f"search.constraints.{i}", text, metrics)
    multi = len(objectives) > 1
    if multi and s.sampler not in MULTI_OBJECTIVE_SAMPLERS:
        problems.append(
            job.problem(
                "search.sampler",
                f"{s.sampler} is single-objective; for a list of metrics use "
                f"{', '.join(MULTI_OBJECTIVE_SAMPLERS)}",
            )
        )
    if s.constraints and s.sampler in ("cmaes", "qmc", "grid", "random"):
        problems.append(
            job.problem(
                "search.constraints",
                f"the {s.sampler} sampler ignores constraints; use tpe, gp or nsga2",
            )
        )
    if pick is not None and not multi:
        problems.append(
            job.problem("promote.pick", "only for a multi-objective search (a list of metrics)")
        )
    elif pick is not None and pick.metric not in dict(objectives):
        problems.append(
            job.problem(
                "promote.pick.metric",
                f"'{pick.metric}' is not an objective; choose from "
                f"{', '.join(m for m, _ in objectives)}",
            )
        )
    if pick is not None and pick.constraint is not None:
        problems += _bound_problems(job, "promote.pick.constraint", pick.constraint, metrics)
    return problems


# ---------------------------------------------------------------------- schedulers

# What each scheduler reads (driver/tuner.py); a key given to one that ignores it is
# refused: fifo stops nothing, and Ray's MedianStoppingRule has no max_t (trials train
# their epochs), so a max_t there would only mislead the cost estimate and progress.
_SCHEDULER_KEYS = {
    "asha": ("grace_period", "reduction_factor", "max_t"),
    "hyperband": ("reduction_factor", "max_t"),
    "median": ("grace_period", "min_samples_required"),
    "fifo": (),
}


def _readers(key: str) -> str:
    """'only asha and median read it'"""
    names = [t for t, keys in _SCHEDULER_KEYS.items() if key in keys]
    return f"only {' and '.join(names)} read{'s' if len(names) == 1 else ''} it"


def _scheduler_problems(job: JobSpec, max_t: int, epochs: int) -> list[SpecProblem]:
    """`epochs`: the most a trial trains (fixed, or the space's largest)."""
    sched = job.the_search.scheduler
    problems = [
        job.problem(
            f"search.scheduler.{key}",
            f"{sched.type} does not take {key} ({_readers(key)})",
        )
        for key in sorted(sched.model_fields_set - {"type", *_SCHEDULER_KEYS[sched.type]})
    ]
    if sched.type in ("asha", "hyperband") and max_t < epochs:  # both end a trial at max_t
        problems.append(
            job.problem(
                "search.scheduler.max_t",
                f"{max_t} is below the {epochs} epochs a trial trains: {sched.type} would stop "
                f"trials at epoch {max_t}, before they end; raise max_t to {epochs} or leave "
                "it out",
            )
        )
    if sched.type == "asha" and sched.grace_period > max_t:  # Ray refuses it after the start
        problems.append(
            job.problem(
                "search.scheduler.grace_period",
                f"{sched.grace_period} is more than max_t ({max_t} epochs): no trial could "
                "reach its first rung; lower grace_period or raise max_t",
            )
        )
    if sched.type == "hyperband" and round(math.log(max_t) / math.log(sched.reduction_factor)) < 1:
        problems.append(
            job.problem(
                "search.scheduler.reduction_factor",
                f"hyperband with max_t {max_t} and reduction_factor "
                f"{sched.reduction_factor:g} has a single bracket that stops no trial; lower "
                "reduction_factor or raise max_t",
            )
        )
    if sched.type == "median" and sched.grace_period >= max_t:
        problems.append(
            job.problem(
                "search.scheduler.grace_period",
                f"median stopping starts after grace_period ({sched.grace_period}) epochs; "
                f"with max_t {max_t} it would stop no trial",
            )
        )
    return problems


def search_problems(
    job: JobSpec,
    metrics: Sequence[str],
    objectives: list[Objective],
    max_t: int,
    epochs: int,
    conditional: bool,
) -> list[SpecProblem]:
    """Every check of the search's algorithms (sampler, scheduler, objectives, warm start);
    `epochs`: the most a trial trains."""
    s = job.the_search
    problems = _option_problems(job)
    problems += _objective_problems(job, objectives, metrics)
    problems += _scheduler_problems(job, max_t, epochs)
    problems += budget_problems(job, objectives)
    if conditional and s.sampler == "grid":
        problems.append(
            job.problem(
                "search.sampler",
                "the grid sampler cannot skip conditional "
                "parameters ('when' in the space); use tpe or random",
            )
        )
    if s.warm_start is not None and s.sampler == "grid":
        problems.append(
            job.problem("search.warm_start", "the grid sampler runs every point anyway")
        )
    if s.warm_start is not None and not s.warm_start.from_.strip():
        problems.append(job.problem("search.warm_start.from", "name a search or 'champion'"))
    if s.finalists is not None and len(objectives) > 1:
        problems.append(
            job.problem(
                "search.finalists",
                "finalists are ranked by one objective's mean; a Pareto search picks with "
                "promote.pick",
            )
        )
    if s.finalists is not None and s.num_samples and s.finalists.top_k > s.num_samples:
        problems.append(
            job.problem(
                "search.finalists.top_k",
                f"{s.finalists.top_k} finalists from {s.num_samples} trials (search.num_samples)",
            )
        )
    return problems
