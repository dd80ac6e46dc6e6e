"""Conditional parameters: a space entry sampled only when others have given values.

    # search_spaces/mad.yaml
    rank:       {type: categorical, choices: [4, 8, 16, 36, 64, 0]}
    init_noise: {type: float, low: 0.01, high: 1.0, log: true, when: {rank: [4, 8, 16, 36, 64]}}

    conditions = load_conditions("search_spaces/mad.yaml", space)   # raises SpecError
    OptunaSearch(space=DefineByRun(space, conditions), ...)          # Optuna define-by-run

`when: {param: value | [values], ...}` holds when every named parameter was sampled with
one of its values (all conditions must hold); a parameter that was not sampled holds
none. An inactive parameter is left out of the trial's config, so the method's default
applies. Each condition names another parameter of the same space and values that
parameter can take (a float without a step takes no exact value); conditions may chain
(rank on mode, init_noise on rank) but not loop, and must be able to hold together.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from adaptune.job.yamlfile import SpecError, SpecProblem, load_yaml

__all__ = ["Conditions", "DefineByRun", "active", "conditions_from", "load_conditions"]

Conditions = dict[str, dict[str, tuple[Any, ...]]]  # param -> {other param: allowed values}


def _same(a: Any, b: Any) -> bool:
    """Equal as YAML values: True is not 1, but 4 is 4.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def possible(value: Any, dist: BaseDistribution) -> bool:
    """Whether `dist` can give `value`."""
    if isinstance(dist, CategoricalDistribution):
        return any(_same(value, c) for c in dist.choices)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(dist, IntDistribution):
        return (
            float(value).is_integer()
            and dist.low <= value <= dist.high
            and ((int(value) - dist.low) % dist.step == 0)
        )
    if isinstance(dist, FloatDistribution):
        if not dist.low <= value <= dist.high:
            return False
        if dist.step is None:
            return True
        n = (value - dist.low) / dist.step
        return abs(n - round(n)) < 1e-9
    return False


def load_conditions(path: str | Path, space: dict[str, BaseDistribution]) -> Conditions:
    """The `when` of every entry of a space file, checked against `space` (its loaded
    distributions); every problem names file, line and key."""
    return conditions_from(*load_yaml(path), str(path), space)


def conditions_from(
    data: dict[str, Any], lines: dict[str, int], file: str, space: dict[str, BaseDistribution]
) -> Conditions:
    """load_conditions of a space's entries (a file's, or one held in a job)."""
    out: Conditions = {}
    problems: list[SpecProblem] = []

    def problem(key: str, message: str) -> None:
        problems.append(
            SpecProblem(file, lines.get(key) or lines.get(key.rsplit(".", 1)[0]), key, message)
        )

    for name, raw in data.items():
        if not isinstance(raw, dict) or "when" not in raw:
            continue
        when = raw["when"]
        if not isinstance(when, dict) or not when:
            problem(f"{name}.when", "must map parameters to a value or a list of values")
            continue
        out[str(name)] = {}
        for other, values in when.items():
            key = f"{name}.when.{other}"
            if other == name:
                problem(key, "a parameter cannot depend on itself")
            elif other not in space:
                problem(key, f"'{other}' is not a parameter of this space ({', '.join(space)})")
            else:
                allowed = tuple(values) if isinstance(values, list) else (values,)
                wrong = [v for v in allowed if not possible(v, space[other])]
                dist = space[other]
                if not allowed or wrong:
                    problem(key, f"{other} can never be {', '.join(map(repr, wrong)) or '[]'}")
                elif isinstance(dist, FloatDistribution) and dist.step is None:
                    problem(
                        key,
                        f"{other} is continuous: it is never exactly "
                        f"{', '.join(map(repr, allowed))}; condition on a categorical, an int "
                        "or a float with a step",
                    )
                out[str(name)][str(other)] = allowed
    if not problems:
        cycle = _cycle(out)
        if cycle:
            problem(f"{cycle[0]}.when", f"conditions loop: {' -> '.join(cycle)}")
    for name in [] if problems else out:
        if not _reachable(name, out, space):
            gated = "; ".join(
                f"{p} is sampled only when {_said(out[p])}" for p in out[name] if p in out
            )
            problem(
                f"{name}.when",
                f"{name} is never sampled: its condition ({_said(out[name])}) never holds: {gated}",
            )
    if problems:
        raise SpecError(problems)
    return out


def _reachable(name: str, conditions: Conditions, space: dict[str, BaseDistribution]) -> bool:
    """Whether some values of the parameters `name`'s conditions reach, directly or through
    theirs, make it active. Conditions only ask for values, so a value no condition names
    never helps: each such parameter tries those named, in the order a trial samples them
    (past 100,000 combinations, the space is left to the sampler)."""
    ancestors: set[str] = set()
    todo = [name]
    while todo:
        for parent in conditions.get(todo.pop(), {}):
            if parent not in ancestors:
                ancestors.add(parent)
                todo.append(parent)
    order = [p for p in ordered(space, conditions) if p in ancestors]
    named: dict[str, list[Any]] = {p: [] for p in order}
    for when in conditions.values():
        for parent, values in when.items():
            if parent in named:
                named[parent] += values
    if math.prod(len(v) for v in named.values()) > 100_000:
        return True
    for combo in itertools.product(*named.values()):
        sampled: dict[str, Any] = {}
        for parent, value in zip(order, combo, strict=True):
            if active(parent, sampled, conditions):
                sampled[parent] = value
        if active(name, sampled, conditions):
            return True
    return False


def _said(when: dict[str, tuple[Any, ...]]) -> str:
    """{'rank': (4, 16)} -> 'rank in [4, 16]'"""
    return ", ".join(
        f"{k} = {v[0]!r}" if len(v) == 1 else f"{k} in {list(v)}" for k, v in when.items()
    )


def _cycle(conditions: Conditions) -> list[str]:
    """A loop among the conditions (as a path), or []."""
    state: dict[str, int] = {}  # 1 = on the path, 2 = done

    def visit(node: str, path: list[str]) -> list[str]:
        if state.get(node) == 1:
            return [*path[path.index(node) :], node]
        if state.get(node) == 2:
            return []
        state[node] = 1
        for parent in conditions.get(node, {}):
            found = visit(parent, [*path, node])
            if found:
                return found
        state[node] = 2
        return []

    for name in conditions:
        found = visit(name, [])
        if found:
            return found
    return []


def ordered(space: dict[str, BaseDistribution], conditions: Conditions) -> list[str]:
    """The space's parameters with every condition's parameter before those it gates."""
    done: list[str] = []

    def add(name: str) -> None:
        if name in done:
            return
        for parent in conditions.get(name, {}):
            add(parent)
        done.append(name)

    for name in space:
        add(name)
    return done


def active(name: str, sampled: dict[str, Any], conditions: Conditions) -> bool:
    """Whether `name` is sampled, given the values sampled so far."""
    return all(
        other in sampled and any(_same(sampled[other], v) for v in values)
        for other, values in conditions.get(name, {}).items()
    )


class DefineByRun:
    """Optuna's define-by-run form of a space with conditions, for OptunaSearch's `space`
    (a plain class, so Tune can pickle the searcher into its checkpoints)."""

    def __init__(self, space: dict[str, BaseDistribution], conditions: Conditions):
        self.space = dict(space)
        self.conditions = {k: dict(v) for k, v in conditions.items()}
        self.order = ordered(self.space, self.conditions)

    def __call__(self, trial: Any) -> None:
        sampled: dict[str, Any] = {}
        for name in self.order:
            if active(name, sampled, self.conditions):
                sampled[name] = _suggest(trial, name, self.space[name])

    def sample_all(self, params: dict[str, Any]) -> dict[str, Any]:
        """Of a full config (an earlier search's), only the parameters active in it."""
        kept: dict[str, Any] = {}
        for name in self.order:
            if name in params and active(name, kept, self.conditions):
                kept[name] = params[name]
        return kept


def _suggest(trial: Any, name: str, dist: BaseDistribution) -> Any:
    """Through the public suggest_* calls: OptunaSearch records the values they return."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    raise TypeError(f"{name}: unsupported distribution {type(dist).__name__}")
