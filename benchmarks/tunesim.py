"""Drive the search's own searcher and scheduler objects the way Tune's controller does,
against a simulated trainable: no Ray cluster, no actors, exact and repeatable.

    searcher = make_searcher(space, "val/mse", "min", "tpe", seed=0)
    scheduler = make_scheduler("asha", "val/mse", "min", max_t=3)
    log = simulate(searcher, scheduler, curve, epoch_time, num_samples=12, max_concurrent=2)

The objects are built as ``adaptune.driver.run`` builds them (``OptunaSearch`` over Optuna
distributions with a seeded sampler, ``ASHAScheduler(time_attr="epoch")``), and called
in the order of ``ray.tune``'s TuneController (2.60): ``suggest`` + ``on_trial_add`` when a
slot frees; per result the scheduler decides first, the searcher sees the result only
if the trial goes on; a stopped or finished trial is completed in both with its last
result (so ASHA-stopped trials reach Optuna as COMPLETE with their early value, as in Tune).
Trials run ``max_concurrent`` at a time on a simulated clock: each epoch of a running
trial takes ``epoch_time(config, epoch)`` seconds, plus ``overhead_s`` once per trial.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Curve = Callable[[dict[str, Any], int], float]  # (config, epoch) -> metric
EpochTime = Callable[[dict[str, Any], int], float]  # (config, epoch) -> seconds


class SimTrial:
    """The part of a Tune Trial that the schedulers read (one object per trial: the
    median rule keys its records by the trial itself)."""

    def __init__(self, trial_id: str):
        self.trial_id = trial_id


class SimController:
    """The part of Tune's controller a scheduler may ask: no trial waits to run here."""

    def get_live_trials(self) -> list[Any]:
        return []


def make_sampler(kind: str, seed: int, options: dict[str, Any] | None = None) -> Any:
    """The sampler a job's ``search.sampler`` + ``search.sampler_options`` give (options
    checked by adaptune's own rules, job/algorithms.py)."""
    import optuna

    from adaptune.job.algorithms import sampler_options

    if kind == "tpe3":  # fewer random start-up trials than Optuna's 10
        kind, options = "tpe", {"n_startup_trials": 3, **(options or {})}
    opts = sampler_options(kind, options or {})
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **opts)
    if kind == "gp":
        return optuna.samplers.GPSampler(seed=seed, **opts)
    if kind == "nsga2":
        from adaptune.driver.tuner import _crossover

        crossover = _crossover(opts.pop("crossover", "uniform"))
        return optuna.samplers.NSGAIISampler(seed=seed, crossover=crossover, **opts)
    if kind == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, **opts)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {kind!r}")


def make_searcher(
    space: dict[str, Any],
    metric: str,
    mode: str,
    sampler: str,
    seed: int,
    options: dict[str, Any] | None = None,
) -> Any:
    import warnings

    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return OptunaSearch(
        space=space, metric=metric, mode=mode, sampler=make_sampler(sampler, seed, options)
    )


def make_scheduler(
    kind: str, metric: str, mode: str, max_t: int, grace_period: int = 1, reduction_factor: int = 2
) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule

    if kind == "fifo":
        return FIFOScheduler()
    if kind == "median":  # as adaptune.driver.tuner builds it
        return MedianStoppingRule(
            time_attr="epoch",
            metric=metric,
            mode=mode,
            grace_period=grace_period,
            min_samples_required=3,
            hard_stop=True,
        )
    return ASHAScheduler(
        time_attr="epoch",
        metric=metric,
        mode=mode,
        max_t=max_t,
        grace_period=grace_period,
        reduction_factor=reduction_factor,
    )


@dataclass
class Event:
    """One reported epoch."""

    trial: int  # 0-based order of suggestion
    epoch: int
    value: float
    clock_s: float  # simulated wall clock when the result arrived
    trial_epochs: int  # trial-epochs spent by then (this one included)
    final: bool  # the trial ended here (completed or stopped)
    completed: bool  # ... having reached max_t
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timings:
    """(trials finished before the call, wall s, CPU s of this thread) per call, in order.
    CPU time is what the call costs; wall time adds whatever else ran on the machine."""

    suggest: list[tuple[int, float, float]] = field(default_factory=list)  # searcher.suggest
    decide: list[tuple[int, float, float]] = field(default_factory=list)  # on_trial_result
    complete: list[tuple[int, float, float]] = field(default_factory=list)  # on_trial_complete


def simulate(
    searcher: Any,
    scheduler: Any,
    curve: Curve,
    epoch_time: EpochTime,
    *,
    num_samples: int,
    max_concurrent: int,
    max_t: int,
    metric: str,
    overhead_s: float = 0.0,
    timings: Timings | None = None,
) -> list[Event]:
    from ray.tune.schedulers import TrialScheduler

    clock = 0.0
    spent = 0
    started = finished = 0
    events: list[Event] = []
    running: list[tuple[float, int, str]] = []  # (time of next result, order, trial id)
    state: dict[str, dict[str, Any]] = {}
    sims: dict[str, SimTrial] = {}
    controller = SimController()

    def launch() -> None:
        nonlocal started
        tid = f"t{started:05d}"
        t0, c0 = time.perf_counter(), time.thread_time()
        config = searcher.suggest(tid)
        if timings is not None:
            timings.suggest.append((finished, time.perf_counter() - t0, time.thread_time() - c0))
        sims[tid] = SimTrial(tid)
        scheduler.on_trial_add(controller, sims[tid])
        state[tid] = {"order": started, "config": config, "epoch": 0, "last": None}
        heapq.heappush(running, (clock + overhead_s + epoch_time(config, 1), started, tid))
        started += 1

    def complete(tid: str, result: dict[str, Any]) -> None:
        nonlocal finished
        t0, c0 = time.perf_counter(), time.thread_time()
        scheduler.on_trial_complete(controller, sims[tid], result)
        searcher.on_trial_complete(tid, result=result)
        if timings is not None:
            timings.complete.append((finished, time.perf_counter() - t0, time.thread_time() - c0))
        finished += 1

    while started < num_samples and len(running) < max_concurrent:
        launch()
    while running:
        clock, order, tid = heapq.heappop(running)
        st = state[tid]
        st["epoch"] += 1
        epoch, spent = st["epoch"], spent + 1
        value = float(curve(st["config"], epoch))
        result = {metric: value, "epoch": epoch, "training_iteration": epoch}
        t0, c0 = time.perf_counter(), time.thread_time()
        decision = scheduler.on_trial_result(controller, sims[tid], result)
        if timings is not None:
            timings.decide.append((finished, time.perf_counter() - t0, time.thread_time() - c0))
        if decision != TrialScheduler.STOP:
            searcher.on_trial_result(tid, result)
        done = decision == TrialScheduler.STOP or epoch >= max_t
        if not done:
            heapq.heappush(running, (clock + epoch_time(st["config"], epoch + 1), order, tid))
        events.append(
            Event(order, epoch, value, clock, spent, done, done and epoch >= max_t, st["config"])
        )
        if done:
            complete(tid, result)
            while started < num_samples and len(running) < max_concurrent:
                launch()
    return events


def environment() -> dict[str, Any]:
    """Machine and versions, for the results tables."""
    import datetime as dt
    import os
    import platform
    from importlib.metadata import version

    return {
        "date": dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        **{pkg: version(pkg) for pkg in ("ray", "optuna", "torch")},
    }


def quantiles(values: list[float], scale: float = 1.0) -> dict[str, float]:
    """median, p95 and max of `values` times `scale`, rounded for printing."""
    import statistics

    xs = sorted(v * scale for v in values)
    if not xs:
        return {"n": 0}
    return {
        "n": len(xs),
        "median": round(statistics.median(xs), 4),
        "p95": round(xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))], 4),
        "max": round(xs[-1], 4),
    }
