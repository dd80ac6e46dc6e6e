"""Library mode: a call into adaptune leaves the caller's process as it found it.

    with library_mode(quiet=True):      # at.search, at.load, SearchResult.trials_df
        ...

A search sets what a CLI process may keep (Ray's and MLflow's environment variables,
quieter loggers, MLflow's default store, Tune's slow-callback threshold, the console);
in a notebook each of these would outlive the call. They are snapshotted on the way in
and put back on the way out.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["library_mode"]


def _mlflow_defaults() -> tuple[Any, Any]:
    """MLflow's default tracking and registry URIs as set in this process (None when
    unset: MLflow then reads its environment). MLflow's getters cannot tell an unset
    default from a set one, so its module globals are read (checked with MLflow 3.17)."""
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    return getattr(tracking, "_tracking_uri", None), getattr(registry, "_registry_uri", None)


def _loggers() -> dict[str, tuple[int, list[logging.Handler], bool, bool]]:
    every = [("", logging.getLogger()), *logging.root.manager.loggerDict.items()]
    return {
        name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for name, lg in every
        if isinstance(lg, logging.Logger)
    }


@contextlib.contextmanager
def library_mode(*, quiet: bool = True, tune: bool = True) -> Iterator[None]:
    """Whatever runs inside may set environment variables, loggers, MLflow's default
    store, the console and (`tune`) Tune's slow-callback threshold: all are put back on
    the way out. `quiet` keeps the search's lines off stdout."""
    import mlflow

    from adaptune.driver import console

    if tune:
        from adaptune.driver.upstream import slow_callback_threshold

        threshold = slow_callback_threshold()
    environ, loggers, uris = dict(os.environ), _loggers(), _mlflow_defaults()
    ours = not console.CONSOLE.configured  # the CLI sets its console up itself
    if ours:
        console.configure(quiet=quiet, live=False)
    hush = contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext()
    try:
        with hush:
            yield
    finally:
        if ours:
            console.CONSOLE.close()
        if _mlflow_defaults() != uris:
            mlflow.set_tracking_uri(uris[0])
            mlflow.set_registry_uri(uris[1])
        os.environ.clear()  # after MLflow's setters, which export what they set
        os.environ.update(environ)
        for name, (level, handlers, propagate, disabled) in loggers.items():
            lg = logging.getLogger(name or None)
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate, lg.disabled = propagate, disabled
        if tune:
            slow_callback_threshold(threshold)
        sys.stdout.flush()
