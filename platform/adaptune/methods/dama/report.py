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


def job_report(
    client: Any, job_run_id: str, best_run_ids: list[str], tolerance: float = 0.005
) -> None:
    """Method.job_report: first vs last stage's best trial per domain, logged to the job
    run as a table, a bar plot, the improved/degraded tags and the overall accuracies."""
    import csv
    import tempfile
    from pathlib import Path

    from adaptune.tracking.names import Tag

    first, last = (client.get_run(r).data.metrics for r in (best_run_ids[0], best_run_ids[-1]))
    if len(best_run_ids) < 2 or not any(k.startswith(PREFIX) for k in first):
        return
    rows, degraded = domain_report(first, last, tolerance)
    with tempfile.TemporaryDirectory() as tmp:
        with open(Path(tmp, "domains.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["domain", "stage1", "stage2", "delta"])
            writer.writeheader()
            writer.writerows(rows)
        domain_bar_plot(rows).savefig(Path(tmp, "domains.png"), dpi=110)
        client.log_artifacts(job_run_id, tmp, artifact_path="report")
    improved = [r["domain"] for r in rows if r["domain"] != "overall" and r["delta"] > tolerance]
    client.set_tag(job_run_id, Tag.DEGRADED_DOMAINS, ",".join(degraded) or "none")
    client.set_tag(job_run_id, Tag.IMPROVED_DOMAINS, ",".join(improved) or "none")
    overall = {r["domain"]: r for r in rows}.get("overall")
    if overall:
        client.log_metric(job_run_id, "stage1/val/acc", overall["stage1"])
        client.log_metric(job_run_id, "last_stage/val/acc", overall["stage2"])
    print(
        f"per-domain: {len(improved)} improved, {len(degraded)} degraded beyond "
        f"{tolerance} ({', '.join(degraded) or 'none'}); table and plot in the job run's "
        "report/",
        flush=True,
    )
