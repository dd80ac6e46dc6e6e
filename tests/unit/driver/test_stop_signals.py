"""What SIGINT and SIGTERM do to a search at each point (driver/interrupt.py): while its
trials run, the first one stops it resumable and the second exits at once; once its
trials ended, the first lets it finish and only the second exits. Real signals, sent to
this process."""

from __future__ import annotations

import signal

import pytest

from adaptune.driver.interrupt import SearchInterrupted, Stop, stops


def test_a_signal_while_trials_run_stops_and_a_second_exits_at_once() -> None:
    before = signal.getsignal(signal.SIGINT)
    with stops(Stop()) as stop:
        signal.raise_signal(signal.SIGTERM)
        assert (stop.why, stop.signum) == ("SIGTERM", signal.SIGTERM)
        with pytest.raises(SearchInterrupted) as again:
            signal.raise_signal(signal.SIGINT)
    assert again.value.exit_code == 130 and "again" in str(again.value)
    assert signal.getsignal(signal.SIGINT) is before  # the process's own handler is back


def test_a_signal_after_the_trials_ended_lets_the_search_finish() -> None:
    with stops(Stop()) as stop:
        stop.ended = True
        signal.raise_signal(signal.SIGINT)
        assert stop.late == "SIGINT" and not stop.why and stop.signum is None
        with pytest.raises(SearchInterrupted) as again:
            signal.raise_signal(signal.SIGTERM)
    assert again.value.exit_code == 143
