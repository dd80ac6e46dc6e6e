"""A search's budget and stop rules: when the search ends before its num_samples.

    search:
      budget: {wall: 2h, usd: 20, gpu_hours: 8, cpu_hours: 4}     # each optional
      stop_when: {objective: 0.12, no_improvement_trials: 20}     # each optional

When a budget is spent or a rule fires, no new trial starts and the running ones are
stopped (their runs say by which rule); the search then ends as usual on the trials it
finished: the best is chosen, re-run and promoted (driver/budget.py watches it). The
spend is the cost ledger's (driver/cost.py, priced by the job's ``pricing:``), the wall
time the search's own (from its start: a resume starts the clock again).

This module reads and checks the keys, so `adaptune validate` refuses an impossible
budget with its file, line and key.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from adaptune.job.objective import Objective
    from adaptune.job.spec import JobSpec
    from adaptune.job.yamlfile import SpecProblem

__all__ = ["BudgetSpec", "StopWhenSpec", "budget_problems", "duration", "rule_text"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([smhd]?)\s*$")


def duration(value: Any) -> float:
    """Seconds, from a number of seconds or "90s", "30m", "2h", "1.5d"; a ValueError
    (pydantic's, its message alone) if it is neither, or not > 0."""
    m = _DURATION.match(value) if isinstance(value, str) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif m:
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise PydanticCustomError(
            "duration",
            "{given} is not a duration: write seconds, or a number with s, m, h or d "
            "(90s, 30m, 2h)",
            {"given": repr(value)},
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise PydanticCustomError(
            "duration", "{given}: a wall budget must be more than 0 seconds", {"given": repr(value)}
        )
    return seconds


_Amount = Field(None, gt=0)  # a budget of 0 would start nothing


class BudgetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    wall: float | None = None  # seconds; the file may write 90s, 30m, 2h
    usd: float | None = _Amount  # the cost ledger's USD (job pricing)
    gpu_hours: float | None = _Amount  # GPU-hours the trials held
    cpu_hours: float | None = _Amount  # CPU-hours the trials held

    @field_validator("wall", mode="before")
    @classmethod
    def _seconds(cls, v: Any) -> float | None:
        return None if v is None else duration(v)

    @model_validator(mode="after")
    def _some(self) -> BudgetSpec:
        if all(getattr(self, k) is None for k in type(self).model_fields):
            raise PydanticCustomError(
                "budget", "give at least one of wall, usd, gpu_hours, cpu_hours"
            )
        return self

    def limits(self) -> dict[str, float]:
        """{"wall": s, "usd": ..., ...}: the budgets given."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class StopWhenSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    # the objective's target: a completed trial at least this good (in the search's mode)
    objective: float | None = None
    # this many trials in a row ended without improving the best (once one has completed)
    no_improvement_trials: int | None = Field(None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _some(self) -> StopWhenSpec:
        if self.objective is None and self.no_improvement_trials is None:
            raise PydanticCustomError("stop_when", "give objective, no_improvement_trials or both")
        return self


_UNIT_TEXT = {"usd": "${:g}", "gpu_hours": "{:g} GPU-hours", "cpu_hours": "{:g} CPU-hours"}


def rule_text(key: str, value: float) -> str:
    """A rule as the summary and the runs name it: "budget.wall (30s)"."""
    if key == "wall":
        return f"budget.wall ({_clock(value)})"
    if key in _UNIT_TEXT:
        return f"budget.{key} ({_UNIT_TEXT[key].format(value)})"
    if key == "objective":
        return f"stop_when.objective ({value:g} reached)"
    return f"stop_when.no_improvement_trials ({value:g} trials without a better one)"


def _clock(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{seconds / _UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


def budget_problems(job: JobSpec, objectives: list[Objective]) -> list[SpecProblem]:
    """What makes a budget or rule impossible to meet: a USD budget at zero prices, a
    GPU-hour budget of trials without GPUs, an objective target on several objectives."""
    s, problems = job.the_search, []
    p = job.pricing
    free = not (p.usd_per_cpu_hour or p.usd_per_gpu_hour or any(p.node_types.values()))
    if s.budget and s.budget.usd and free:
        problems.append(
            job.problem(
                "search.budget.usd",
                "the job's pricing charges nothing (usd_per_cpu_hour and usd_per_gpu_hour "
                "are 0, no node_types priced): set pricing, or budget cpu_hours / gpu_hours",
            )
        )
    if s.budget and s.budget.gpu_hours and job.resources.use_gpu is False:
        problems.append(
            job.problem(
                "search.budget.gpu_hours",
                "the trials use no GPU (resources.use_gpu: false): budget wall, usd or cpu_hours",
            )
        )
    if s.stop_when and s.stop_when.objective is not None and len(objectives) > 1:
        problems.append(
            job.problem(
                "search.stop_when.objective",
                "a target value needs one objective; this search has "
                f"{len(objectives)} (a Pareto front): use no_improvement_trials or a budget",
            )
        )
    return problems
