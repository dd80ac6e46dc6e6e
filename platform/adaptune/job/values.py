"""A method's config values, checked the way trials will receive them.

    clean, problems = check_values(DAOConfig, {"epochs": 2, "lr": 1})
    clean == {"epochs": 2, "lr": 1.0}; problems == []

Types are strict: a quoted number, ``8.0`` for an int or ``"false"`` for a bool is
refused, never converted (a trial would otherwise receive what YAML wrote, and the string
"false" is true); every float must be finite. Then ranges that hold for every method, by
field name (RANGES), then the config's own ``__post_init__`` checks. What comes back is
the typed values (YAML lists as tuples where the field is a tuple): the values trials get.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

__all__ = ["RANGES", "check_values", "range_problem"]

SEED_LIMIT = 2**32  # numpy's and torch's seeds are unsigned 32-bit
MAX_LR = 10.0  # above it, a typo (DAMA's lambda_lr, on a 10^2 scale, is searched up to 10)
MAX_EPOCHS = 10_000


def _between(low: float, high: float) -> Callable[[float], bool]:
    return lambda v: low <= v <= high


# (does the rule apply to this field name, does the value pass, what it must be)
RANGES: list[tuple[Callable[[str], bool], Callable[[Any], bool], str]] = [
    (lambda n: n == "lr" or n.endswith("_lr"), lambda v: v > 0, "a learning rate > 0"),
    (
        lambda n: n == "lr" or n.endswith("_lr"),
        lambda v: v <= MAX_LR,
        f"a learning rate <= {MAX_LR:g}",
    ),
    (
        lambda n: n == "epochs" or n.endswith("_epochs"),
        lambda v: v <= MAX_EPOCHS,
        f"<= {MAX_EPOCHS}",
    ),
    (lambda n: "dropout" in n or n.endswith("_prob"), _between(0, 1), "a probability in [0, 1]"),
    (lambda n: n == "seed" or n.endswith("_seed"), lambda v: 0 <= v < SEED_LIMIT, "in [0, 2^32)"),
    (lambda n: n == "max_len", lambda v: v >= 1, ">= 1"),
    (lambda n: n.startswith("warmup"), lambda v: v >= 0, ">= 0"),
    (lambda n: n == "weight_decay" or n == "momentum", lambda v: v >= 0, ">= 0"),
    (lambda n: n == "eps" or n.endswith("_eps"), lambda v: v > 0, "> 0"),
    (lambda n: n.endswith("batch_size"), lambda v: v >= 1, ">= 1"),
]


def range_problem(name: str, value: Any) -> str | None:
    """What `value` of field `name` must be, when it is not (None: it passes)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number (got {value})"
    for applies, passes, must in RANGES:
        if applies(name) and not passes(value):
            return f"must be {must} (got {value!r})"
    if isinstance(value, int) and value < 0:  # int fields are counts, sizes and ranks
        return f"must be >= 0 (got {value})"
    return None


@functools.cache
def _model(config_cls: type) -> type[BaseModel]:
    """A strict pydantic model with the dataclass's fields, types and defaults."""
    hints = typing.get_type_hints(config_cls)
    fields: dict[str, Any] = {
        f.name: (hints[f.name], f.default) for f in dataclasses.fields(config_cls)
    }
    config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
    model: type[BaseModel] = create_model(
        f"{config_cls.__name__}Values",
        __config__=config,
        **fields,
    )
    return model


def _tuples(config_cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """YAML has no tuples: a list given for a tuple field becomes one."""
    hints = typing.get_type_hints(config_cls)
    return {
        k: tuple(v) if isinstance(v, list) and "tuple" in str(hints.get(k, "")) else v
        for k, v in values.items()
    }


def check_values(
    config_cls: type, values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """(the typed values given, [(field, message)]); field "" = the config as a whole."""
    given = _tuples(config_cls, values)
    try:
        typed = _model(config_cls).model_validate(given)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            msg = "not a config field" if err["type"] == "extra_forbidden" else err["msg"]
            if name in given and err["type"] != "extra_forbidden":
                msg = f"{msg} (got {given[name]!r})"
            problems.append((name, msg))
        return {}, problems
    clean = {k: getattr(typed, k) for k in given}
    problems = [(k, p) for k, v in clean.items() if (p := range_problem(k, v)) is not None]
    if problems:
        return {}, problems
    try:
        config_cls(**clean)
    except (ValueError, TypeError) as e:  # the config's own __post_init__ checks
        return {}, [(_culprit(config_cls, clean), f"Value error, {e}")]
    return clean, []


def _culprit(config_cls: type, values: dict[str, Any]) -> str:
    """The field a whole-config check refused: the first that fails on its own."""
    for key, value in values.items():
        try:
            config_cls(**{key: value})
        except (ValueError, TypeError):
            return key
    return ""
