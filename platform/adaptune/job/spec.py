"""Job specs: YAML -> pydantic models, with errors that name file, line and key.

    job = load_job("jobs/quickstart.yaml")      # raises SpecError on any problem
    plans = make_plans(job)                      # semantic checks (adaptune.plan), no Ray

Structure only: the method-specific checks (config fields, metrics, data sources) are
``plan.py``'s. YAML loading and the line map are ``yamlfile.py``'s.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from adaptune.job import names
from adaptune.job.budget import BudgetSpec, StopWhenSpec
from adaptune.job.objective import Mode
from adaptune.job.overrides import blame_override, set_dotted
from adaptune.job.pricing import PricingSpec
from adaptune.job.resources import ResourceSpec
from adaptune.job.space import as_entries
from adaptune.job.yamlfile import (
    KeyedValueError,
    SpecError,
    SpecProblem,
    line_for,
    load_yaml,
    problems_from_validation,
)

__all__ = [
    "DataSpec",
    "JobSpec",
    "PricingSpec",
    "ResourceSpec",
    "SpecError",
    "SpecProblem",
    "load_job",
    "load_yaml",
]

Sampler = Literal["tpe", "random", "cmaes", "grid", "qmc", "gp", "nsga2"]


class _Strict(BaseModel):
    # strict: a number is a number (lax pydantic reads `true` as 1 and "4" as 4)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


_T = TypeVar("_T")
# A field of a strict model that converts, where YAML cannot write the type (a Mode from
# "min", a tuple from a list).
_Lax = Annotated[_T, Strict(False)]


SEED = Field(0, ge=0, lt=2**32)  # numpy's and torch's seeds are unsigned 32-bit


class DataSpec(_Strict):
    source: str = Field(description="synthetic-finsent | file | hf")
    path: str | None = None  # local file for source=file, dataset name for source=hf
    split: str = "train"
    columns: dict[str, str] = Field(default_factory=dict)  # our name -> column in the data
    n_train: int = Field(2000, ge=10, le=10_000_000)
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    # The held-out test split, seen once after the search: a generated corpus draws a
    # sample of round(n_train * test_fraction) with its own seed; a file or dataset gives
    # `test_path` (a file) / `test_split` (a Hugging Face split), else a seeded, stratified
    # share of this size is carved off before train and val are split.
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    test_path: str | None = None
    test_split: str | None = None
    seed: int = SEED
    options: dict[str, Any] = Field(default_factory=dict)


class SchedulerSpec(_Strict):
    # asha, hyperband (Ray's HyperBandScheduler), median (MedianStoppingRule) or fifo;
    # which keys each takes is checked in job/algorithms.py
    type: Literal["asha", "fifo", "hyperband", "median"] = "asha"
    grace_period: int = Field(1, ge=1)
    # ASHA and HyperBand build log(max_t / grace_period) / log(reduction_factor) rungs:
    # 1.000000001 would be a billion of them.
    reduction_factor: float = Field(3.0, ge=1.5, le=100.0)
    max_t: int | None = Field(None, ge=1, le=10_000)  # epochs; default: the trial's epochs
    min_samples_required: int = Field(3, ge=1)  # median: finished trials to compare with


class WarmStartSpec(_Strict):
    """The first trials: an earlier search's top-k configs, or the champion's config."""

    from_: str = Field(alias="from")  # a search name (or run id), or "champion"
    top_k: int = Field(3, ge=1, le=100)


class FinalistsSpec(_Strict):
    """Seed-robust selection: the `top_k` configs by val each re-trained with `seeds` more
    seeds; the best mean val wins (driver/finalists.py)."""

    top_k: int = Field(3, ge=2, le=16)
    seeds: int = Field(2, ge=1, le=16)


class SearchSpec(_Strict):
    # A space file (search_spaces/*.yaml), or the space itself: {name: entry}, each entry
    # in the file's format or an optuna distribution (kept in the file's format).
    space: str | dict[str, Any]
    sampler: Sampler = "tpe"
    num_samples: int | None = Field(None, ge=1, le=100_000)  # None: 16; grid: the grid's size
    # Options of the sampler (n_startup_trials, multivariate, ...): job/algorithms.py
    sampler_options: dict[str, Any] = Field(default_factory=dict)
    # default: the method's metric; a list = multi-objective (a Pareto front)
    metric: str | list[str] | None = None
    mode: _Lax[Mode] | list[_Lax[Mode]] | None = None
    constraints: list[str] = Field(default_factory=list)  # "metric <= value", feasibility
    warm_start: WarmStartSpec | None = None
    finalists: FinalistsSpec | None = None  # the winner by mean val over seeds
    scheduler: SchedulerSpec = SchedulerSpec()
    max_concurrent: int | Literal["auto"] = "auto"
    seed: int = SEED
    # when the search ends before num_samples (job/budget.py): then it ends as usual
    budget: BudgetSpec | None = None
    stop_when: StopWhenSpec | None = None

    _entries = field_validator("space", mode="before")(as_entries)

    @field_validator("max_concurrent")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be >= 1 or 'auto'")
        return v


class TrackingSpec(_Strict):
    uri: names.TrackingURI | None = None  # None: embedded SQLite store under the state folder
    experiment: names.ExperimentName | None = None  # default: the job's name
    # Whose model is logged (the rest keep metrics and params): the chosen trial's (what
    # promotion and the next stage read), the top_k completed by the objective, or all.
    log_models: Literal["best", "top_k", "all"] = "best"
    top_k: int = Field(3, ge=1, le=1000)


class PickSpec(_Strict):
    """A multi-objective search's one winner: the best `metric` on the Pareto front among
    the points that meet `constraint` ("metric <= value"); checked in job/algorithms.py."""

    metric: str
    constraint: str | None = None


class PromoteSpec(_Strict):
    enabled: bool = True
    pick: PickSpec | None = None  # multi-objective only; default: the first objective
    model_name: names.ModelName | None = None  # default: the job's name
    alias: names.Alias = "champion"
    # better: the alias moves to a candidate whose test score beats the holder's at all;
    # significant: only when it beats it by more than the noise (see docs/evaluation.md).
    rule: Literal["better", "significant", "no_domain_regresses"] = "better"


class FinalSpec(_Strict):
    """After the search: the best config re-trained with `seeds` fresh seeds, each scored
    on test, for a mean and a 95 % interval (0 = the best trial's own test score only)."""

    seeds: int = Field(0, ge=0, le=32)


class ArmSpec(_Strict):
    """One arm of a comparison: a name, fixed values over the job's, and its own space."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
    fixed: dict[str, Any] = Field(default_factory=dict)
    space: str | dict[str, Any] | None = None  # default: the job's search.space

    _entries = field_validator("space", mode="before")(as_entries)


class StageSpec(_Strict):
    """One stage of a multi-stage job: its own space, sampler, scheduler and fixed values.

    Stage k+1 starts from stage k's winning config and best model (config field
    ``init_from``, a local copy of the model logged in MLflow).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
    search: SearchSpec
    fixed: dict[str, Any] = Field(default_factory=dict)


class JobSpec(_Strict):
    # every search, run and model is named after it: no secret in it (names.py)
    name: names.NoSecret = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    method: str
    description: str | None = None
    data: DataSpec
    fixed: dict[str, Any] = Field(default_factory=dict)
    search: SearchSpec | None = None  # one search ...
    stages: list[StageSpec] | None = None  # ... or several, run in order
    resources: ResourceSpec = ResourceSpec()
    tracking: TrackingSpec = TrackingSpec()
    promote: PromoteSpec = PromoteSpec()
    final: FinalSpec = FinalSpec()
    # A comparison: every arm runs the job's search (same sampler, budget, scheduler),
    # its best config gets the same seeded re-runs, and the job run gets the comparison.
    arms: list[ArmSpec] | None = None
    # [candidate, baseline]: the contrast the comparison is run for, on the objective's test
    # metric, read at its own p; every other contrast of the job is Holm-adjusted.
    primary: _Lax[tuple[str, str]] | None = None
    storage_path: str | None = None  # Tune/Train state; default: the state folder
    pricing: PricingSpec = PricingSpec()  # what compute costs (job/pricing.py)

    # Where the spec came from: relative paths are resolved next to it (preflight.py), and
    # problems point at its lines.
    source_file: str = Field("", exclude=True)
    lines: dict[str, int] = Field(default_factory=dict, exclude=True)
    key_prefix: str = Field("", exclude=True)  # "stages.1." in a stage's view of the job
    job_name: str = Field("", exclude=True)  # the multi-stage job's name, in a stage's view
    arm: str = Field("", exclude=True)  # the arm's name, in an arm's view of a comparison
    overrides: dict[str, Any] = Field(default_factory=dict, exclude=True)  # blamed by plan.py

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> JobSpec:
        """The job in a YAML file, with dotted-key `overrides` ({"search.num_samples": 4})."""
        return load_job(path, overrides)

    @classmethod
    def from_dict(cls, data: dict[str, Any], overrides: dict[str, Any] | None = None) -> JobSpec:
        """A job written in code, in the YAML's shape; problems name dotted keys."""
        return _validated(data, "", {}, overrides or {})

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The job as YAML (what `from_yaml` reads back); written to `path` if given."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        text = yaml.safe_dump({"name": self.name, "method": self.method, **data}, sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    def validate(self, *, trust_remote_code: bool = False) -> None:  # type: ignore[override]
        """Every check `adaptune validate` makes (values, space, data, model); raises
        SpecError naming file:line:key, or the dotted key of a job made in code."""
        from adaptune.plan import make_plans

        make_plans(self, trust_remote_code=trust_remote_code)

    @model_validator(mode="after")
    def _one_search(self) -> JobSpec:
        if (self.search is None) == (not self.stages):
            key = "search" if self.stages is None else "stages"
            raise KeyedValueError(key, "give either 'search' or a non-empty list of 'stages'")
        seen: set[str] = set()
        for i, stage in enumerate(self.stages or []):
            if stage.name in seen:
                raise KeyedValueError(f"stages.{i}.name", f"stage name '{stage.name}' repeats")
            seen.add(stage.name)
        if self.arms is not None:
            if self.stages:
                raise KeyedValueError("arms", "a comparison runs one search per arm: no stages")
            if len(self.arms) < 2:
                raise KeyedValueError("arms", "a comparison needs at least two arms")
            names = [a.name for a in self.arms]
            for i, arm in enumerate(self.arms):
                if names.index(arm.name) != i:
                    raise KeyedValueError(f"arms.{i}.name", f"arm name '{arm.name}' repeats")
        wrong = [a for a in self.primary or () if a not in [a.name for a in self.arms or []]]
        if wrong or (self.primary and self.primary[0] == self.primary[1]):
            why = f"'{wrong[0]}' is not an arm" if wrong else "two different arms"
            raise KeyedValueError("primary", f"{why}: name [candidate, baseline] of 'arms'")
        return self

    @property
    def the_search(self) -> SearchSpec:
        """The search of a single-search job (or of one stage's view)."""
        assert self.search is not None, "multi-stage job: use stage_views()"
        return self.search

    def stage_views(self) -> list[JobSpec]:
        """Each stage as a single-search job; a plain job is its own only view."""
        if not self.stages:
            return [self]
        return [
            self.model_copy(
                update={
                    "name": f"{self.name}-{stage.name}",
                    "search": stage.search,
                    "fixed": {**self.fixed, **stage.fixed},
                    "stages": None,
                    "key_prefix": f"stages.{i}.",
                    "job_name": self.name,
                    # every stage's search runs in the job's experiment, beside its job run
                    "tracking": self.tracking.model_copy(
                        update={"experiment": self.tracking.experiment or self.name}
                    ),
                }
            )
            for i, stage in enumerate(self.stages)
        ]

    def arm_views(self) -> list[JobSpec]:
        """Each arm of a comparison as a single-search job: the job's search (its space
        replaced if the arm gives one) over the job's fixed values and the arm's."""
        assert self.arms and self.search is not None
        return [
            self.model_copy(
                update={
                    "name": f"{self.name}-{arm.name}",
                    "search": self.search.model_copy(
                        update={"space": arm.space or self.search.space}
                    ),
                    "fixed": {**self.fixed, **arm.fixed},
                    "arms": None,
                    "key_prefix": f"arms.{i}.",
                    "job_name": self.name,
                    "arm": arm.name,
                    "tracking": self.tracking.model_copy(
                        update={"experiment": self.tracking.experiment or self.name}
                    ),
                }
            )
            for i, arm in enumerate(self.arms)
        ]

    def problem(self, key: str, message: str) -> SpecProblem:
        if self.key_prefix and key.split(".")[0] in ("search", "fixed"):
            key = self.key_prefix + key
        return SpecProblem(self.source_file, line_for(self.lines, key), key, message)


def load_job(path: str | Path, overrides: dict[str, Any] | None = None) -> JobSpec:
    """Load and structurally validate a job spec; `overrides` are dotted keys (--set)."""
    data, lines = load_yaml(path)
    return _validated(data, str(path), lines, overrides or {})


def _validated(
    data: dict[str, Any], file: str, lines: dict[str, int], overrides: dict[str, Any]
) -> JobSpec:
    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        set_dotted(data, dotted, value)
    meta = {"source_file": file, "lines": lines, "overrides": overrides}
    try:
        return JobSpec.model_validate({**data, **meta})
    except ValidationError as e:
        problems = problems_from_validation(e, file, lines)
        raise SpecError([blame_override(p, overrides) for p in problems]) from e
