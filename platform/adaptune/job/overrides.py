"""Overrides of a job's keys (the command line's --set, ``Job.from_yaml(overrides=...)``),
and the blame when one of them is what is wrong.

    key, value = parse_override("search.num_samples=4")   # the value is read as YAML
    set_dotted(data, key, value)
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

import yaml
from pydantic import BaseModel

from adaptune.job.yamlfile import SpecError, SpecLoader, SpecProblem

__all__ = ["blame_override", "parse_override", "set_dotted"]


def blame_override(problem: SpecProblem, overrides: dict[str, Any]) -> SpecProblem:
    """A problem a --set override caused, told as that override's (the job file's line
    does not hold it), with the closest valid key for an unknown one."""
    for dotted, value in overrides.items():
        if not (dotted == problem.key or dotted.startswith(problem.key + ".")):
            continue
        message = problem.message
        if message == "unknown key":
            *parents, leaf = problem.key.split(".")
            fields = _fields_at(parents)
            longer = [f for f in fields if f.startswith(leaf)]  # "grace" -> "grace_period"
            close = longer[:1] or difflib.get_close_matches(leaf, fields, n=1, cutoff=0.5)
            if close:
                message += f" (did you mean '{'.'.join([*parents, close[0]])}'?)"
        return SpecProblem("--set", None, f"{dotted}={value}", message)
    return problem


def _fields_at(path: list[str]) -> list[str]:
    """The spec keys valid under a dotted path (JobSpec's nested models)."""
    from adaptune.job.spec import JobSpec

    model: Any = JobSpec
    for part in path:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        nested = [field.annotation, *typing.get_args(field.annotation)]
        model = next((t for t in nested if isinstance(t, type) and issubclass(t, BaseModel)), None)
    fields = getattr(model, "model_fields", {})
    return [k for k, f in fields.items() if not f.exclude]


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, leaf = dotted.split(".")
    for p in parents:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise SpecError([SpecProblem("--set", None, dotted, f"'{p}' is not a mapping")])
        node = nxt
    node[leaf] = value


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` from the command line; the value is read as YAML (numbers, lists...)."""
    if "=" not in text:
        raise SpecError([SpecProblem("--set", None, text, "expected key=value")])
    key, raw = text.split("=", 1)
    try:
        value = yaml.load(raw, Loader=SpecLoader)  # a safe loader; 1e-5 read as a float
    except yaml.YAMLError as e:
        raise SpecError([SpecProblem("--set", None, key, f"bad value: {e}")]) from e
    return key.strip(), value
