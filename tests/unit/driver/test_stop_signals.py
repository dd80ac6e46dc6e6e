"""What SIGINT and SIGTERM do to a search at each point (driver/interrupt.py): while its
trials run, the first one stops it resumable and the second exits at once; once its
trials ended, the first exits at once, resumable, unless --promote-partial lets it finish
(then only the second exits). Real signals, sent to
this process."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from adaptune.driver.interrupt import SearchInterrupted, Stop, stops, trials_ended


def test_a_signal_while_trials_run_stops_and_a_second_exits_at_once() -> None:
    before = signal.getsignal(signal.SIGINT)
    with stops(Stop()) as stop:
        signal.raise_signal(signal.SIGTERM)
        assert (stop.why, stop.signum) == ("SIGTERM", signal.SIGTERM)
        with pytest.raises(SearchInterrupted) as again:
            signal.raise_signal(signal.SIGINT)
    assert again.value.exit_code == 130 and "again" in str(again.value)
    assert signal.getsignal(signal.SIGINT) is before  # the process's own handler is back


def test_a_signal_after_the_trials_ended_exits_resumable(tmp_path: Path) -> None:
    """During the seeded re-runs or the decision, a signal exits at once, resumable."""
    with stops(Stop()) as stop, pytest.raises(SearchInterrupted) as stopped:
        trials_ended(stop, "s-1", tmp_path, {}, finish=False)
        signal.raise_signal(signal.SIGTERM)
    assert stopped.value.exit_code == 143
    assert str(stopped.value).startswith("s-1 interrupted (SIGTERM) after its trials ended")
    assert "resume s-1" in str(stopped.value)


def test_with_promote_partial_a_signal_after_the_trials_ended_lets_it_finish(
    tmp_path: Path,
) -> None:
    with stops(Stop()) as stop:
        trials_ended(stop, "s-1", tmp_path, {}, finish=True)
        signal.raise_signal(signal.SIGINT)
        assert stop.late == "SIGINT" and not stop.why and stop.signum is None
        with pytest.raises(SearchInterrupted) as again:
            signal.raise_signal(signal.SIGTERM)
    assert again.value.exit_code == 143
