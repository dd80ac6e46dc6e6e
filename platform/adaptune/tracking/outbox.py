"""Write-behind for the search driver's MLflow writes: an MLflow outage never stops a search.

    box = Outbox(say=print)
    box.open_run("abc_00001", "trial abc_00001", create=make_run, find=find_run)
    box.write("abc_00001", "metric write", lambda run_id: client.log_batch(run_id, batch))
    box.pump()          # on every Tune callback event: retry what is queued (cheap when idle)
    box.drain(60)       # at the end of the search: bounded wait with backoff
    box.unrecorded()    # what never made it, one human-readable line per run

Every write goes to its run's lane, in order, and is attempted at once while MLflow
answers. A write that fails with a connection error (or a 5xx/429 from the server) stays
at the head of its lane, and the lane waits: a run's metrics never overtake its creation,
its final status never overtakes its metrics. A run whose creation failed has no id yet;
its writes wait in the lane and get the id once the run exists. While MLflow is down
nothing is attempted until a short retry interval has passed, so the Tune loop is never
held up for long (the attempts themselves fail fast, see ``tracking.fail_fast``).

A write MLflow refuses (a 4xx: bad value, missing run) is not retried: it is reported by
``unrecorded`` with the error, and the lane goes on. Retries are idempotent where it
matters: before re-sending a write whose earlier attempt may have reached the server,
its ``done`` check (if any) asks the server whether it is there already, so a run is
never created twice and an epoch's metrics are never logged twice.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outbox", "catch_up_seconds", "is_transient"]

CATCH_UP_ENV = "ADAPTUNE_MLFLOW_CATCHUP_S"
DEFAULT_CATCH_UP_S = 60.0
MAX_RETRY_EVERY = 10.0  # seconds: the longest wait between two tries while MLflow is down


def catch_up_seconds() -> float:
    """How long the end of a search waits for MLflow to take the queued writes
    (``$ADAPTUNE_MLFLOW_CATCHUP_S``, default 60)."""
    try:
        return max(0.0, float(os.environ.get(CATCH_UP_ENV, DEFAULT_CATCH_UP_S)))
    except ValueError:
        return DEFAULT_CATCH_UP_S


def is_transient(err: BaseException) -> bool:
    """A failure worth retrying: no connection, a timeout, or the server's 5xx / 429.
    MLflow wraps connection errors in an MlflowException; the cause chain is searched."""
    import requests
    from mlflow.exceptions import MlflowException

    seen: BaseException | None = err
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, ConnectionError | TimeoutError | requests.RequestException):
            return True
        if isinstance(seen, MlflowException):
            status = seen.get_http_status_code()
            if status >= 500 or status == 429:
                return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass(eq=False)
class _Op:
    what: str  # "metric write", "status tag", ...: how unrecorded() names it
    fn: Callable[[str], Any]  # gets the run id; the lane's creation op returns it
    done: Callable[[str], Any] | None = None  # on a retry: truthy if already written
    creates: bool = False
    tried: bool = False  # an attempt failed: a retry checks `done` first
    queued: bool = False  # not written at its first chance


@dataclass
class _Lane:
    label: str
    run_id: str | None = None
    ops: deque[_Op] = field(default_factory=deque)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (what, error)
    dead: str | None = None  # the run could not be created: why


class Outbox:
    """Ordered, retried MLflow writes, one lane per run (see the module docstring)."""

    def __init__(
        self,
        *,
        say: Callable[[str], None] | None = None,
        retry_every: float = 2.0,
    ):
        self.say = say or (lambda text: None)
        self.retry_every = retry_every
        self.lanes: dict[str, _Lane] = {}
        self.down_since: float | None = None  # MLflow unreachable since (clock)
        self.down_s = 0.0  # total time MLflow was unreachable, outages that ended
        self.outages = 0
        self._next_try = 0.0
        self._wait = retry_every
        self._last_error = ""
        self.stats: Counter[str] = Counter()  # writes, attempts, failed, queued, caught_up

    # -- lanes ---------------------------------------------------------------------------
    def adopt(self, key: str, run_id: str, label: str) -> None:
        """A lane for a run that exists already (the search run, a resumed trial's run)."""
        self.lanes.setdefault(key, _Lane(label, run_id))

    def open_run(
        self,
        key: str,
        label: str,
        create: Callable[[], str],
        find: Callable[[], str | None] | None = None,
    ) -> None:
        """A lane whose run `create` makes (returning its id); `find` returns the id of
        that run if an earlier attempt created it after all (asked only on a retry)."""
        if key in self.lanes:
            return
        self.lanes[key] = _Lane(label)
        self._push(
            key, _Op("run creation", lambda _: create(), (lambda _: find()) if find else None, True)
        )

    def has(self, key: str) -> bool:
        return key in self.lanes

    def run_id(self, key: str) -> str | None:
        lane = self.lanes.get(key)
        return lane.run_id if lane else None

    def write(
        self,
        key: str,
        what: str,
        fn: Callable[[str], Any],
        done: Callable[[str], Any] | None = None,
    ) -> None:
        """Queue `fn(run_id)` behind the lane's earlier writes and try to send what is queued."""
        if key not in self.lanes:
            raise KeyError(f"no run {key!r} in the outbox")
        self._push(key, _Op(what, fn, done))

    def _push(self, key: str, op: _Op) -> None:
        self.stats["writes"] += 1
        lane = self.lanes[key]
        if lane.dead is not None:
            lane.refused.append((op.what, lane.dead))
            return
        lane.ops.append(op)
        self.pump()
        if not op.queued and any(o is op for o in lane.ops):  # not written at its first chance
            op.queued = True
            self.stats["queued"] += 1

    # -- sending -------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return sum(len(lane.ops) for lane in self.lanes.values())

    def pump(self) -> bool:
        """Send what is queued, unless MLflow is down and its retry time has not come.
        True when nothing is left queued."""
        if not self.pending:
            return True
        if self.down_since is not None and time.monotonic() < self._next_try:
            return False
        return self._send()

    def drain(self, timeout: float) -> bool:
        """Retry with backoff (1 s, 2 s, ... 10 s) until every lane is empty or `timeout`
        seconds have passed; always tries once. True when everything was written.
        `timeout` bounds the wait for MLflow, not a catch-up that is making progress."""
        deadline = time.monotonic() + timeout
        wait = 1.0
        if self.pending and self.down_since is not None:
            self.say(
                f"MLflow: {self.pending} writes queued; waiting up to {timeout:.0f} s "
                "for the tracking server"
            )
        while True:
            if self._send():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(wait, left))
            wait = min(wait * 2, MAX_RETRY_EVERY)

    def _send(self) -> bool:
        """One pass over the lanes, oldest first; stops at the first transient failure."""
        for lane in list(self.lanes.values()):
            while lane.ops:
                if self._attempt(lane, lane.ops[0]) == "retry":
                    return False  # MLflow is down, and so for every other lane
                lane.ops.popleft()  # written, or refused (reported; the lane goes on)
        return True

    def _attempt(self, lane: _Lane, op: _Op) -> str:
        """Write `op`: "ok", "retry" (a transient failure: it stays queued) or "refused"
        (MLflow said no: recorded in lane.refused, not retried)."""
        self.stats["attempts"] += 1
        from adaptune.tracking.store import fail_fast  # MLflow: imported at the first write

        try:
            with fail_fast():
                found = op.done(lane.run_id or "") if op.tried and op.done else None
                result = found or op.fn(lane.run_id or "")  # found: an earlier try got through
        except Exception as e:
            if is_transient(e):
                self.stats["failed"] += 1
                op.tried = True
                self._go_down(e)
                return "retry"
            error = f"{type(e).__name__}: {_short(e)}"
            lane.refused.append((op.what, error))
            self.say(f"MLflow refused a write for {lane.label} ({op.what}): {error}")
            if op.creates:
                lane.dead = f"its run could not be created: {error}"
                lane.refused.extend((later.what, lane.dead) for later in list(lane.ops)[1:])
                lane.ops = deque([op])
            return "refused"
        if self.down_since is not None:
            self._back_up()
        if op.creates:
            lane.run_id = str(result)
        if op.queued:
            self.stats["caught_up"] += 1
        return "ok"

    def _go_down(self, err: BaseException) -> None:
        now = time.monotonic()
        self._last_error = _short(err)
        if self.down_since is None:
            self.down_since = now
            self.outages += 1
            self._wait = self.retry_every
            self.say(
                f"MLflow unreachable ({self._last_error}); writes are queued and retried, "
                "the search goes on"
            )
        else:
            self._wait = min(self._wait * 2, MAX_RETRY_EVERY)
        self._next_try = now + self._wait

    def _back_up(self) -> None:
        assert self.down_since is not None
        took = time.monotonic() - self.down_since
        self.down_s += took
        self.down_since = None
        self.say(f"MLflow back after {took:.0f} s: catching up {self.pending} queued writes")

    # -- reporting -----------------------------------------------------------------------
    def unrecorded(self) -> list[str]:
        """One line per run with writes that did not reach MLflow (queued or refused)."""
        out = []
        for lane in self.lanes.values():
            parts = []
            waiting = Counter(op.what for op in lane.ops)
            if waiting:
                parts.append(f"{_count(waiting)} (MLflow unreachable)")
            errors: dict[str, Counter[str]] = {}
            for what, error in lane.refused:
                errors.setdefault(error, Counter())[what] += 1
            for error, whats in errors.items():
                parts.append(f"{_count(whats)} (refused: {error})")
            if parts:
                out.append(f"{lane.label}: {'; '.join(parts)}")
        return out

    def counts(self) -> dict[str, float]:
        """writes, queued (not written at their first chance), caught_up, lost."""
        lost = self.pending + sum(len(lane.refused) for lane in self.lanes.values())
        return {
            "writes": self.stats["writes"],
            "attempts": self.stats["attempts"],
            "failed_attempts": self.stats["failed"],
            "queued": self.stats["queued"],
            "caught_up": self.stats["caught_up"],
            "lost": lost,
            "outages": self.outages,
            "unreachable_s": round(
                self.down_s
                + (time.monotonic() - self.down_since if self.down_since is not None else 0.0),
                1,
            ),
        }


def _count(whats: Counter[str]) -> str:
    return ", ".join(w if n == 1 else f"{n} {w}s" for w, n in whats.items())


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_URL = re.compile(r"API request to (\S+?://[^/\s]+)")


def _short(err: BaseException) -> str:
    """The gist of an error: "Connection refused (http://host:port)" rather than
    MLflow's and urllib3's nested messages."""
    text = str(err).strip()
    errno, url = _ERRNO.search(text), _URL.search(text)
    if errno:
        return errno.group(1).strip() + (f" ({url.group(1)})" if url else "")
    text = text.splitlines()[0] if text else type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."
