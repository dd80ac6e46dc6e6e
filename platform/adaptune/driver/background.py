"""What the search driver does while it waits on Ray: work started in a thread, joined later.

    data_ready = in_background(prepare_data, plan, state_dir)   # starts now
    init_ray(...)                                                # meanwhile
    data, cache_dir, info = data_ready()                         # waits, or raises its error

The driver spends Ray's start mostly waiting on Ray's processes, and the trials mostly
waiting on the trial actors: data tokenising, MLflow's store and the report's imports go
there instead of before or after them (benchmarks/search_fixed_cost.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["in_background", "warm_report_imports", "warmed"]

T = TypeVar("T")

# Held while warm_report_imports imports. The driver's own first use of those modules
# waits for it (`warmed`), so no module is imported by two threads at once: an import
# cycle between two threads makes Python raise a deadlock error in one of them.
_IMPORTING = threading.Lock()

# What the end of a search imports besides the report's own modules (warm_report_imports).
WARM_MODULES = (
    "matplotlib.figure",
    "matplotlib.lines",
    "matplotlib.ticker",
    "mlflow.pyfunc",
    "optuna.importance",
)


def in_background(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start fn(*args) in a daemon thread (one a failed search does not wait for); the
    call returned waits for it and returns its result or raises its exception."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # handed to the waiting caller
            box["error"] = e

    thread = threading.Thread(target=target, name=f"adaptune-{fn.__name__}", daemon=True)
    thread.start()

    def wait() -> T:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return wait


def warm_report_imports(ready: Callable[[], bool] | None = None) -> None:
    """What the end of a search imports (the report: matplotlib, Optuna's fANOVA, the
    report modules; MLflow's pyfunc flavour, which logs each trial's model), ~3 s on a
    2-core machine, loaded while the driver waits on the trials instead of after them:
    from when `ready()` (the first trial started), so they do not slow the first trial's."""
    import importlib

    while ready is not None and not ready():
        time.sleep(0.2)
    with _IMPORTING:
        import matplotlib

        matplotlib.use("Agg")
        for name in WARM_MODULES:
            importlib.import_module(name)
        from adaptune.report import build, plots  # noqa: F401  (the report's own modules)


def warmed() -> None:
    """Wait for warm_report_imports while it imports (at once if it is not importing)."""
    with _IMPORTING:
        pass
