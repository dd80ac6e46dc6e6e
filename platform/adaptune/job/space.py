"""Search spaces: ``search_spaces/*.yaml`` in Optuna's abbreviated distribution format.

    lr:        {type: float, low: 1.0e-5, high: 3.0e-4, log: true}
    lora_rank: {type: categorical, choices: [8, 16, 32]}

    space = load_space("search_spaces/dao.yaml")   # {name: optuna BaseDistribution}

Entries are checked by a strict model first (Optuna ignores unknown keys such as a
misspelt ``hgih``), then built by ``optuna.distributions.json_to_distribution``, so
the bounds mean exactly what Optuna means: an int ``high`` is inclusive.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    json_to_distribution,
)
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from adaptune.job.yamlfile import SpecError, SpecProblem, load_yaml, problems_from_validation

__all__ = ["as_entries", "grid_of", "grid_size", "load_space", "parse_value", "space_from"]

Scalar = bool | int | float | str | None


class _Entry(BaseModel):
    # NaN compares false; strict: `low: true` is not 1
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Scalar] | None = None
    when: dict[str, Any] | None = None  # a conditional parameter: job/conditions.py

    @field_validator("choices", mode="before")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        for c in v if isinstance(v, list) else ():
            if isinstance(c, float) and not math.isfinite(c):
                raise ValueError(f"choices must be finite numbers (got {c})")
        return v

    @model_validator(mode="after")
    def _shape(self) -> _Entry:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical needs a non-empty 'choices' list")
            if self.low is not None or self.high is not None or self.step is not None:
                raise ValueError("categorical takes only 'choices'")
            if len(set(map(repr, self.choices))) != len(self.choices):
                raise ValueError("'choices' has duplicates")
            kinds = sorted({type(c).__name__ for c in self.choices if c is not None})
            if len(kinds) > 1:  # a trial's value would change type with the sample
                raise ValueError(f"'choices' mix types ({', '.join(kinds)}); use one type")
            return self
        if self.choices is not None:
            raise ValueError(f"{self.type} takes low/high, not 'choices'")
        if self.low is None or self.high is None:
            raise ValueError(f"{self.type} needs both 'low' and 'high'")
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) > high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log scale needs low > 0 (got {self.low})")
        if self.log and self.step is not None:
            raise ValueError("'step' and 'log' cannot be combined")
        if self.step is not None:  # Optuna would only warn, and quietly cut `high`
            if self.step <= 0:
                raise ValueError(f"step must be > 0 (got {self.step})")
            n = (self.high - self.low) / self.step
            if abs(n - round(n)) > 1e-9 * max(1.0, n):
                raise ValueError(
                    f"step ({self.step}) does not divide high - low ({self.high - self.low:g})"
                )
        if self.type == "int" and any(
            v is not None and float(v) != int(v) for v in (self.low, self.high, self.step)
        ):
            raise ValueError("int bounds and step must be whole numbers")
        return self


def load_space(path: str | Path) -> dict[str, BaseDistribution]:
    """Read a search space file; every problem names file, line and parameter."""
    return space_from(*load_yaml(path), str(path))


def space_from(
    data: dict[str, Any], lines: dict[str, int], file: str
) -> dict[str, BaseDistribution]:
    """The distributions of a space's entries (a file's, or one held in a job)."""
    space: dict[str, BaseDistribution] = {}
    problems: list[SpecProblem] = []
    for name, raw in data.items():
        if not isinstance(raw, dict):
            problems.append(
                SpecProblem(file, lines.get(str(name)), str(name), "must be a mapping with 'type'")
            )
            continue
        try:
            entry = _Entry.model_validate(raw)
        except ValidationError as e:
            problems += problems_from_validation(e, file, lines, prefix=str(name))
            continue
        try:
            space[str(name)] = json_to_distribution(json.dumps(_abbreviated(entry)))
        except ValueError as e:  # Optuna's own checks (e.g. step not dividing the range)
            problems.append(SpecProblem(file, lines.get(str(name)), str(name), str(e)))
    if problems:
        raise SpecError(problems)
    if not space:
        raise SpecError([SpecProblem(file, None, "", "search space has no parameters")])
    return space


def as_entries(space: Any) -> Any:
    """A space held in memory in the file's format: optuna distributions become entries
    ({type: float, low, high, log, step}); anything else is left for validation."""
    if not isinstance(space, dict):
        return space
    return {k: _entry_of(v) if isinstance(v, BaseDistribution) else v for k, v in space.items()}


def _entry_of(dist: BaseDistribution) -> dict[str, Any]:
    if isinstance(dist, CategoricalDistribution):
        return {"type": "categorical", "choices": list(dist.choices)}
    if not isinstance(dist, FloatDistribution | IntDistribution):
        raise ValueError(f"unsupported distribution {type(dist).__name__}")
    kind = "int" if isinstance(dist, IntDistribution) else "float"
    out: dict[str, Any] = {"type": kind, "low": dist.low, "high": dist.high, "log": dist.log}
    if dist.step is not None and not (kind == "int" and dist.step == 1):
        out["step"] = dist.step
    return out


def _abbreviated(entry: _Entry) -> dict[str, Any]:
    if entry.type == "categorical":
        return {"type": "categorical", "choices": entry.choices}
    cast = int if entry.type == "int" else float
    assert entry.low is not None and entry.high is not None  # checked by _Entry
    out: dict[str, Any] = {
        "type": entry.type,
        "low": cast(entry.low),
        "high": cast(entry.high),
        "log": entry.log,
    }
    if entry.step is not None:
        out["step"] = cast(entry.step)
    return out


# Optuna's GridSampler lists every point: a grid over a range of 10^8 would never start.
MAX_GRID = 100_000


def _count(dist: BaseDistribution) -> int | None:
    """How many values a discrete distribution has, or None when it is continuous."""
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices)
    if isinstance(dist, IntDistribution) and not dist.log:
        return (dist.high - dist.low) // dist.step + 1
    if isinstance(dist, FloatDistribution) and dist.step is not None:
        return round((dist.high - dist.low) / dist.step) + 1
    return None


def _values(dist: BaseDistribution) -> list[Any]:
    """All values of a discrete distribution (counted first: see grid_size)."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution):
        return list(range(dist.low, dist.high + 1, dist.step))
    assert isinstance(dist, FloatDistribution) and dist.step is not None
    n = round((dist.high - dist.low) / dist.step)
    return [float(v) for v in np.round(dist.low + dist.step * np.arange(n + 1), 12)]


def grid_of(space: dict[str, BaseDistribution]) -> dict[str, list[Any]]:
    """The grid for Optuna's GridSampler; raises ValueError naming continuous parameters,
    or when the grid has more than MAX_GRID points."""
    grid_size(space)
    return {k: _values(d) for k, d in space.items()}


def grid_size(space: dict[str, BaseDistribution]) -> int:
    """The number of grid points, counted without listing them (ValueError as grid_of)."""
    counts = {k: _count(d) for k, d in space.items()}
    continuous = [k for k, n in counts.items() if n is None]
    if continuous:
        raise ValueError(
            "the grid sampler needs discrete parameters (categorical, int, or float with "
            f"'step'); continuous: {', '.join(continuous)}"
        )
    size = math.prod(n for n in counts.values() if n is not None)
    if size > MAX_GRID:
        raise ValueError(
            f"the grid has {size} points, over {MAX_GRID}: coarsen a step, or sample instead"
        )
    return size


def representative_values(dist: BaseDistribution) -> list[Any]:
    """Values to type-check against a config field: the choices, or both bounds."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, FloatDistribution) and dist.step is None and dist.high > dist.low:
        # Also a value inside the range that is no whole number: an int field refuses it.
        return [dist.low, dist.high, dist.low + (dist.high - dist.low) / math.pi]
    if isinstance(dist, IntDistribution | FloatDistribution):
        return [dist.low, dist.high]
    return []


def parse_value(text: str, dist: BaseDistribution) -> Any:
    """A trial's param string back to the distribution's type; None if it does not fit."""
    try:
        if isinstance(dist, CategoricalDistribution):
            return next(c for c in dist.choices if str(c) == text)
        if isinstance(dist, IntDistribution):
            return int(float(text))
        if isinstance(dist, FloatDistribution):
            return float(text)
    except (ValueError, StopIteration):
        return None
    return None
