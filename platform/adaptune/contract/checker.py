"""The contract's bookkeeping: the error a method author reads, the report of a passing
check, and the checker that collects failures."""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from adaptune.method import Method

# Hooks a trial calls (the Method's required fields) and config fields the worker reads.
REQUIRED_HOOKS = (
    "build_data",
    "build_model",
    "build_optimizers",
    "train_step",
    "evaluate",
    "save_model",
    "load_predictor",
)
WORKER_FIELDS = ("batch_size", "epochs", "seed")
# The name prefixes MLflow tags (adaptune.<name>.) and names model folders: keep it plain.
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

Space = str | Path | Mapping[str, Any]


class MethodContractError(Exception):
    """The method breaks the contract; `failures` lists every problem found, each with
    what to fix."""

    def __init__(self, method: str, failures: Sequence[str]) -> None:
        self.method, self.failures = method, list(failures)
        lines = "\n".join(f"  - {f}" for f in self.failures)
        n = len(self.failures)
        super().__init__(
            f"method '{method}' breaks the adaptune Method contract "
            f"({n} problem{'s' * (n != 1)}):\n{lines}"
        )


@dataclass
class ContractReport:
    """What a passing check saw: the checks passed, steps trained, val metrics, time."""

    method: str
    passed: list[str] = field(default_factory=list)
    steps: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class _Stop(Exception):
    """A failed check that the following checks depend on."""


def _error(e: BaseException) -> str:
    """The exception and the innermost frame of the method's own code that raised it."""
    frames = traceback.extract_tb(e.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(e).__name__}: {e}{where}"


class _Checker:
    def __init__(self, method: Method) -> None:
        self.method = method
        self.failures: list[str] = []
        self.report = ContractReport(method.name)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def stop(self, message: str) -> NoReturn:
        """A failure the following checks depend on: end the run here."""
        self.failures.append(message)
        raise _Stop

    def ok(self, check: str) -> None:
        self.report.passed.append(check)

    def call(self, what: str, fix: str, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args); a raise is a failure that stops the run (nothing after can run)."""
        try:
            return fn(*args)
        except Exception as e:  # the method's code: any error is the author's to see
            self.stop(f"{what} raised {_error(e)}. {fix}")
