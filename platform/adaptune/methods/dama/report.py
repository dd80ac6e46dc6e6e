"""Per-domain comparison of stage 1 and stage 2, and the non-degradation check.

    rows, degraded = domain_report(stage1_metrics, stage2_metrics, tolerance=0.005)
    fig = domain_bar_plot(rows)            # matplotlib Agg figure; fig.savefig("dama.png")

Inputs are evaluate()'s metric dicts (``val/acc/<domain>`` per domain, ``val/acc``
overall). A domain is degraded when its stage-2 accuracy is below stage 1's by more
than `tolerance` (absolute accuracy, 0.005 = half a point).
"""

from __future__ import annotations

from typing import Any

PREFIX = "val/acc/"


def domain_report(
    stage1: dict[str, float], stage2: dict[str, float], tolerance: float = 0.0
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows {domain, stage1, stage2, delta} for every domain both report, then an
    "overall" row from val/acc when both have it; and the degraded domains."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    domains = [k[len(PREFIX) :] for k in stage1 if k.startswith(PREFIX) and k in stage2]
    rows = [_row(d, stage1[PREFIX + d], stage2[PREFIX + d]) for d in domains]
    degraded = [r["domain"] for r in rows if r["delta"] < -tolerance]
    if "val/acc" in stage1 and "val/acc" in stage2:
        rows.append(_row("overall", stage1["val/acc"], stage2["val/acc"]))
    return rows, degraded


def _row(domain: str, a: float, b: float) -> dict[str, Any]:
    return {"domain": domain, "stage1": float(a), "stage2": float(b), "delta": float(b) - float(a)}


def domain_bar_plot(rows: list[dict[str, Any]], title: str = "DAMA per-domain accuracy") -> Any:
    """Grouped bars, stage 1 next to stage 2 per domain (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(6.0, 0.6 * len(rows)), 4.0))
    ax = fig.add_subplot()
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r["stage1"] for r in rows], width=0.4, label="stage 1")
    ax.bar([x + 0.2 for x in xs], [r["stage2"] for r in rows], width=0.4, label="stage 2")
    ax.set_xticks(list(xs), [r["domain"] for r in rows], rotation=60, ha="right")
    low = min([r["stage1"] for r in rows] + [r["stage2"] for r in rows], default=0.0)
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig
