"""The per-domain stage-1 vs stage-2 report and its non-degradation check."""

from __future__ import annotations

import pytest

from adaptune.methods.dama.report import domain_bar_plot, domain_report

S1 = {
    "val/acc": 0.80,
    "val/acc/dvd": 0.80,
    "val/acc/books": 0.70,
    "val/acc/MR": 0.90,
    "val/loss": 0.4,
}
S2 = {"val/acc": 0.81, "val/acc/dvd": 0.85, "val/acc/books": 0.695, "val/acc/MR": 0.88}


def test_rows_pair_each_domain_and_end_with_overall() -> None:
    rows, _ = domain_report(S1, S2, tolerance=0.0)
    assert [r["domain"] for r in rows] == ["dvd", "books", "MR", "overall"]
    assert rows[0]["delta"] == pytest.approx(0.05)
    assert rows[-1] == pytest.approx(
        {"domain": "overall", "stage1": 0.80, "stage2": 0.81, "delta": 0.01}
    )


def test_degraded_domains_respect_the_tolerance() -> None:
    assert domain_report(S1, S2, tolerance=0.0)[1] == ["books", "MR"]
    assert domain_report(S1, S2, tolerance=0.01)[1] == ["MR"]
    assert domain_report(S1, S2, tolerance=0.05)[1] == []
    with pytest.raises(ValueError):
        domain_report(S1, S2, tolerance=-1)


def test_bar_plot_draws_two_bars_per_row(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows, _ = domain_report(S1, S2)
    fig = domain_bar_plot(rows)
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * len(rows)
    assert [t.get_text() for t in ax.get_xticklabels()] == [r["domain"] for r in rows]
    fig.savefig(tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0
