"""Ctrl-C and SIGTERM stop a search; they do not end it.

    stop = Stop()                  # Forward(stop) among the Tuner's callbacks
    with stops(stop):              # from the search's record to its end, in the main thread
        grid = tuner.fit()
        trials_ended(stop, ...)    # later signals exit resumable (or let it finish)
        if stop.signum: ...        # the driver leaves the search resumable, promotes nothing

Left alone, Tune takes SIGINT as the end of the experiment: fit() returns and the driver
would decide, promote and report half a search. Here SIGINT and SIGTERM both go to Tune's
interrupt handler (the one it installs for SIGUSR1 while fit runs), so Tune saves its
experiment state one last time and stops its trials where they are; the driver then marks
their runs interrupted and raises SearchInterrupted (exit 130, or 143 for SIGTERM), and
`adaptune resume` continues with the remaining budget. The handler only notes the signal;
Forward, a callback of the Tuner, tells Tune at its loop's next step (a handler left by an
earlier fit in the same process would be the wrong one to call). A second signal exits at
once, still leaving Tune's last saved state and the resume record behind. A signal before
the fit starts stops it at its first step; one after its trials ended (the seeded re-runs,
the decision, the report) exits at once, resumable, or with --promote-partial lets the
search finish, and only a second one exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray.tune import Callback

from adaptune.driver import upstream
from adaptune.driver.console import say
from adaptune.driver.disk import DiskFull

__all__ = ["Forward", "SearchInterrupted", "Stop", "stopped", "stops", "trials_ended"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SearchInterrupted(KeyboardInterrupt):
    """A search stopped by SIGINT or SIGTERM; its resume record stays resumable. The CLI
    prints it and exits with `exit_code` (128 + the signal)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


@dataclass
class Stop:
    """Why the search stops early (a stop signal's name, or the disk watch's reason; ""
    while it runs), the signal if it was one, whether Tune was told, whether Tune's loop
    has ended, and a signal that came after it did."""

    why: str = ""
    signum: int | None = None
    told: bool = False
    ended: bool = False  # Tune's loop is over (trials_ended)
    finish: bool = False  # then a first signal lets the search finish
    after: str = ""  # else what SearchInterrupted says ({signal}: the signal's name)
    late: str = ""
    fault: type[Exception] | None = None  # what stopped() raises, if not a signal or disk

    def request(
        self, why: str, signum: int | None = None, fault: type[Exception] | None = None
    ) -> None:
        if not self.why:  # the first reason stands
            self.why, self.signum, self.fault = why, signum, fault

    def tell_tune(self) -> None:
        if self.why and not self.told:
            self.told = upstream.interrupt_tune(self.signum or signal.SIGINT)


class Forward(Callback):
    """Tells Tune's loop of the stop, from inside it (Tune's handler is then this fit's)."""

    def __init__(self, stop: Stop):
        self.stop = stop

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        self.stop.tell_tune()

    def __getstate__(self) -> dict[str, Any]:  # pickled with Tune's state: no live stop
        return {"stop": Stop()}


@contextlib.contextmanager
def stops(stop: Stop, *, verbose: bool = False) -> Iterator[Stop]:
    """SIGINT and SIGTERM set `stop` while this block runs, and Forward(stop) stops Tune's
    loop (main thread only: a search driven from another thread keeps the process's
    handlers). Unless `verbose`, Tune's own lines on it (its Tuner.restore advice) are
    not shown: the driver says what to run."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    tune_log = logging.getLogger("ray.tune.tune")
    level = tune_log.level
    if not verbose:
        tune_log.setLevel(logging.ERROR)

    def on_signal(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if stop.signum is not None or stop.late:  # the second one: at once
            raise SearchInterrupted(
                f"{name} again: stopped at once (Tune's last saved state and the resume "
                "record are kept)",
                signum,
            )
        if stop.ended and not stop.finish:  # the re-runs or the decision: resumable
            raise SearchInterrupted(stop.after.replace("{signal}", name), signum)
        if stop.ended:  # --promote-partial: what it would end on is all there now
            stop.late = name
            say(
                f"{name}: the trials have ended and the search is finishing (deciding, "
                "reporting); send it again to exit at once"
            )
            return
        stop.request(name, signum)
        say(
            f"{name}: stopping the search; running trials keep their last checkpoint "
            "and it stays resumable (send it again to exit at once)"
        )

    before = {s: signal.getsignal(s) for s in SIGNALS}
    tune_own = os.environ.get(upstream.TUNE_SIGINT_ENV)
    os.environ[upstream.TUNE_SIGINT_ENV] = "1"  # Tune leaves SIGINT to on_signal
    for s in SIGNALS:
        signal.signal(s, on_signal)
    try:
        yield stop
    finally:
        tune_log.setLevel(level)
        for s, handler in before.items():
            signal.signal(s, handler)
        if tune_own is None:
            os.environ.pop(upstream.TUNE_SIGINT_ENV, None)
        else:
            os.environ[upstream.TUNE_SIGINT_ENV] = tune_own


def hint(
    ended: int, total: int, search: str, state_dir: Path, origin: dict[str, Any] | None
) -> str:
    """How far a search stopped early got, and the command that goes on."""
    return (
        f"{ended} of {total} trials ended, the running ones stopped at their last "
        f"checkpoint; nothing was decided or promoted\n{going_on(search, state_dir, origin)}"
    )


def going_on(search: str, state_dir: Path, origin: dict[str, Any] | None) -> str:
    """The command that goes on with a search stopped early."""
    origin = origin or {}
    where = f"adaptune --state-dir {shlex.quote(str(state_dir.resolve()))}"
    if origin.get("arm"):  # a comparison's arms run at equal budget in one go
        return f"a comparison is run again whole: {where} search {shlex.quote(origin['job'])}"
    return f"continue with: {where} resume {origin.get('job_key') or search}"


def trials_ended(stop: Stop, search: str, state_dir: Path, origin: Any, *, finish: bool) -> None:
    """Tune's loop is over: a signal from now on (during the seeded re-runs, the decision,
    the report) exits at once, resumable, or with `finish` (--promote-partial: the search
    ends on what finished, which is now all of it) lets the search finish."""
    stop.ended, stop.finish = True, finish
    then = going_on(search, state_dir, origin)
    stop.after = (
        f"{search} interrupted ({{signal}}) after its trials ended: nothing was promoted\n{then}"
    )


def stopped(
    stop: Stop, ended: int, total: int, search: str, state_dir: Path, origin: Any
) -> BaseException:
    """What the driver raises for a search stopped early: SearchInterrupted for a signal
    (exit 130 / 143), DiskFull (exit 1) for low disk space, else the stop's own fault."""
    text = hint(ended, total, search, state_dir, origin)
    if stop.signum is not None:
        return SearchInterrupted(f"{search} interrupted ({stop.why}): {text}", stop.signum)
    if stop.fault is not None:
        return stop.fault(f"{search} stopped: {stop.why}. {text}")
    return DiskFull(f"{search} stopped: {stop.why}; free some space. {text}")
