"""What a search prints while it runs, and its JSON-lines event stream.

    console.configure(quiet=False, events="events.jsonl")   # the CLI does this
    CONSOLE.say("ab12 started: lr=0.001")                   # "[00:03] ab12 started: ..."
    CONSOLE.progress(Progress(total=8, max_t=4, ...))       # a live line on a terminal
    CONSOLE.emit("trial_finished", trial="ab12", status="stopped")
    with CONSOLE.phase("ray_start"): ...                    # {"event": "phase", "s": ...}

On a terminal the progress line stays at the bottom and is redrawn in place (every other
print goes above it); in a log it is printed as a line when a trial ends. ``quiet``
prints nothing; events go to their file either way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = ["CONSOLE", "Console", "Progress", "configure"]


@dataclass
class Progress:
    """Trials by state, and a rough ETA: wall time per trial-epoch so far, times the
    trial-epochs still expected (running trials to the mean length of finished ones,
    else to max_t; pending trials likewise)."""

    total: int
    max_t: int
    metric: str = ""
    epochs: dict[str, int] = field(default_factory=dict)  # trial id -> epochs reported
    ended: dict[str, str] = field(default_factory=dict)  # trial id -> outcome
    best: float | None = None
    reported_s: float = 0.0  # elapsed when the last epoch was reported
    started_s: float = 0.0  # elapsed when these trials began (re-runs start after the search)
    spend: str = ""  # the spend so far, against a money or hours budget (driver/budget.py)
    waiting: str = ""  # what trials wait for, if nodes (driver/nodes.py)

    def counts(self) -> dict[str, int]:
        done = {s: sum(v == s for v in self.ended.values()) for s in ("completed", "stopped")}
        running = len(set(self.epochs) - set(self.ended))
        return {
            "done": len(self.ended),
            **done,
            "errored": len(self.ended) - sum(done.values()),
            "running": running,
            "pending": max(0, self.total - len(self.epochs | self.ended)),
        }

    def eta_s(self, elapsed_s: float) -> float | None:
        spent = sum(self.epochs.values())
        if not spent:
            return None
        lengths = [self.epochs.get(t, 0) for t in self.ended]
        typical = sum(lengths) / len(lengths) if lengths else float(self.max_t)
        left = sum(max(0.0, typical - e) for t, e in self.epochs.items() if t not in self.ended)
        left += self.counts()["pending"] * typical
        at = self.reported_s or elapsed_s  # the rate as of the last report, counted down
        return max(0.0, (at - self.started_s) / spent * left - (elapsed_s - at))

    def line(self, elapsed_s: float) -> str:
        c = self.counts()
        parts = [
            f"{c['done']}/{self.total} done ({c['completed']} completed, {c['stopped']} stopped"
            + (f", {c['errored']} errored" if c["errored"] else "")
            + f"), {c['running']} running, {c['pending']} pending",
        ]
        if self.waiting:
            parts.append(self.waiting)
        if self.best is not None:
            parts.append(f"best {self.metric} {self.best:.4g}")
        parts.append(f"elapsed {clock(elapsed_s)}")
        eta = self.eta_s(elapsed_s)
        if eta is not None and c["done"] < self.total:
            parts.append(f"ETA ~{clock(eta)}")
        if self.spend:
            parts.append(self.spend)
        return " · ".join(parts)


def clock(seconds: float) -> str:
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def _columns(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 100


class _Live:
    """stdout with a status line kept under everything else printed: a write erases it,
    and it is drawn again once the line written is complete."""

    def __init__(self, stream: IO[str]):
        self.stream, self.status = stream, ""
        self.shown = False  # the status line is what the cursor's line holds
        self.midline = False  # a line is being written (print writes text, then "\n")

    def write(self, text: str) -> int:
        if self.shown:
            self.stream.write("\r\033[K")
            self.shown = False
        n = self.stream.write(text)
        if text:
            self.midline = not text.endswith("\n")
        if self.status and not self.midline:
            self.stream.write(self.status)
            self.shown = True
        self.stream.flush()
        return n

    def show(self, status: str) -> None:
        # one screen row: a wrapped line would leave its first row behind at each redraw
        self.status = status[: max(20, _columns(self.stream) - 1)]
        if not self.midline:  # else it is drawn when that line is done
            self.stream.write("\r\033[K" + self.status)
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
        self.status, self.shown = "", False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class Console:
    def __init__(self) -> None:
        self.quiet = False
        self.start = time.monotonic()
        self.events: IO[str] | None = None
        self._owned = False  # the events file is ours to close
        self.live: _Live | None = None
        self.configured = False  # by the CLI; else each search restarts the clock
        self._drawn = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, text: str) -> None:
        if not self.quiet:
            e = self.elapsed()
            print(f"[{int(e // 60):02d}:{int(e % 60):02d}] {text}", flush=True)

    def progress(self, progress: Progress, *, ended: bool = False) -> None:
        """Redraw the live line (a terminal: at most once a second unless a trial ended);
        elsewhere print it when a trial ends."""
        if self.quiet:
            return
        now = time.monotonic()
        if self.live is not None and (ended or now - self._drawn >= 1.0):
            self._drawn = now
            self.live.show(progress.line(self.elapsed()))
        elif self.live is None and ended:
            self.say(progress.line(self.elapsed()))

    def emit(self, event: str, **fields: Any) -> None:
        if self.events is None:
            return
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        record = {"event": event, "time": stamp, "elapsed_s": round(self.elapsed(), 3), **fields}
        self.events.write(json.dumps(record, default=str) + "\n")
        self.events.flush()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """A step of the search's fixed cost, timed into the event stream (a "phase" event
        with its seconds; benchmarks/search_fixed_cost.py reads them)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.emit("phase", phase=name, s=round(time.monotonic() - started, 3))

    def close(self) -> None:
        if self.live is not None:
            self.live.clear()
            sys.stdout = self.live.stream
            self.live = None
        if self.events is not None and self._owned:
            self.events.close()
        self.events, self.quiet, self.configured, self._owned = None, False, False, False


CONSOLE = Console()


def say(text: str) -> None:
    """CONSOLE.say by name: what an outbox holds pickles with Tune's state (a bound method
    would carry the console and its open events file)."""
    CONSOLE.say(text)


def configure(
    *, quiet: bool = False, events: str | None = None, live: bool | None = None
) -> Console:
    """Set the search's output up (the CLI, once): `events` a file to write JSON lines to
    ("-": stdout, as it is now); `live` defaults to whether stdout is a terminal.
    Returns the console; ``CONSOLE.close()`` undoes it."""
    CONSOLE.close()
    CONSOLE.quiet, CONSOLE.start = quiet, time.monotonic()
    if events == "-":
        CONSOLE.events = sys.stdout
    elif events:
        CONSOLE.events, CONSOLE._owned = open(events, "w", encoding="utf-8"), True  # noqa: SIM115
    CONSOLE.configured = True
    if live is None:
        live = sys.stdout.isatty()
    if live and not quiet:
        CONSOLE.live = _Live(sys.stdout)
        sys.stdout = CONSOLE.live
    return CONSOLE
