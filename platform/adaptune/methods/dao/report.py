"""DAO's weight trajectory: w_c, alpha and beta every ``log_every`` steps, as CSV and PNG.

    write_trajectory(model.trajectory, "out/")   # dao_trajectory.csv + dao_trajectory.png
    rows = read_trajectory("out/dao_trajectory.csv")
    plot_trajectories({"floor 0": rows0, "floor 0.1": rows1}, "wc.png")

The worker reports per-epoch means of step logs (``dao/w_c`` in MLflow is an epoch
mean); the per-step curve, which shows a collapse of the softmax weights within an
epoch, lives in the saved model directory (so in the logged MLflow model's artifacts).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["TRAJECTORY", "plot_trajectories", "read_trajectory", "write_trajectory"]

TRAJECTORY = "dao_trajectory"  # file stem in a saved model directory
SHOWN = ("w_c", "alpha", "beta")


def write_trajectory(rows: Sequence[Mapping[str, float]], directory: str | Path) -> list[Path]:
    """dao_trajectory.csv (every logged key per step) and .png (w_c, alpha, beta)."""
    if not rows:
        return []
    root = Path(directory)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    csv_path = root / f"{TRAJECTORY}.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    png = plot_trajectories({"": list(rows)}, root / f"{TRAJECTORY}.png")
    return [csv_path, png]


def read_trajectory(path: str | Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def plot_trajectories(
    runs: Mapping[str, Sequence[Mapping[str, float]]],
    path: str | Path,
    title: str = "DAO weights during training",
) -> Path:
    """One panel per shown key (w_c, alpha, beta), one line per run, x = optimiser step."""
    import matplotlib

    matplotlib.use("Agg")  # headless: workers and CI have no display
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2))
    axes = fig.subplots(1, len(SHOWN))
    for ax, key in zip(axes, SHOWN, strict=True):
        for label, rows in runs.items():
            points = [(r["step"], r[key]) for r in rows if key in r]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, label=label or None, linewidth=1.2)
        ax.set_xlabel("optimiser step")
        ax.set_title(key)
        ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    handles, labels = axes[0].get_legend_handles_labels()
    if any(labels):  # beside the panels: over them it hides the curves
        fig.legend(handles, labels, loc="center right", fontsize=7)
        fig.set_figwidth(12.0)
        fig.tight_layout(rect=(0.0, 0.0, 0.8, 1.0))
    else:
        fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out
