"""What a search optimises: an objective's direction and a constraint's bound, parsed once.

Mode("min").best(trials, key=lambda t: t.value)     # the first of equals wins
bound = parse_bound("val/params_adapter <= 250000")
bound.violation(300000.0)                            # > 0: not met (Optuna's sign)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Bound", "Mode", "Objective", "parse_bound"]

T = TypeVar("T")


class Mode(StrEnum):
    """An objective's direction: what "better" and "best" mean, in one place."""

    MIN = "min"
    MAX = "max"

    def better(self, new: float, old: float) -> bool:
        """Strictly better: a tie keeps the old one."""
        return new < old if self is Mode.MIN else new > old

    def best(self, items: Iterable[T], key: Callable[[T], Any]) -> T:
        """The best item by `key`; the first of equals wins."""
        pick = min if self is Mode.MIN else max
        return pick(items, key=key)

    def ranked(self, items: Iterable[T], key: Callable[[T], Any]) -> list[T]:
        """Best first; equals keep their order."""
        return sorted(items, key=key, reverse=self is Mode.MAX)

    @property
    def word(self) -> str:
        """What better means, in words: "lower" or "higher"."""
        return "lower" if self is Mode.MIN else "higher"


Objective = tuple[str, Mode]  # (metric, direction)
_BOUND = re.compile(r"^\s*(\S+)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


class Bound(BaseModel):
    """`metric <= value` (or >=): Optuna's constraint value is how far it is violated."""

    model_config = ConfigDict(frozen=True)
    metric: str
    op: Literal["<=", ">="]
    value: float

    def violation(self, observed: float) -> float:
        """<= 0 when met (Optuna's convention for feasible)."""
        return observed - self.value if self.op == "<=" else self.value - observed

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_bound(text: str) -> Bound:
    m = _BOUND.match(text)
    if not m:
        raise ValueError(f"'{text}': write 'metric <= number' or 'metric >= number'")
    try:
        value = float(m.group(3))
    except ValueError:
        raise ValueError(f"'{text}': '{m.group(3)}' is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"'{text}': the bound must be finite")
    return Bound(metric=m.group(1), op=m.group(2), value=value)
