"""MAD's result as a curve: accuracy against the parameters a domain adds, per search
(search_report, on val) and per comparison arm on test with intervals and the Visual
Decathlon score against the comparison's fine-tuning arm (job_report).

    rows = [{"label": "I=4", "params": 2.1e4, "acc": 0.81, "ci95": 0.01},
            {"label": "full", "params": 6.5e5, "acc": 0.86}, ...]
    accuracy_vs_params_plot(rows, "acc_vs_params.png")   # then log it as an artifact

`params` is the parameters one domain adds, `acc` the mean accuracy over domains.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def accuracy_vs_params_plot(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write a PNG (log-x scatter, points labelled, sorted by parameters); its path."""
    import matplotlib

    matplotlib.use("Agg")  # headless: workers and CI have no display
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("no rows to plot")
    points = sorted(rows, key=lambda r: float(r["params"]))
    xs = [max(1.0, float(r["params"])) for r in points]  # log axis: 0 params (bn_head) -> 1
    ys = [100.0 * float(r["acc"]) for r in points]
    err = [100.0 * float(r.get("ci95") or 0.0) for r in points]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(xs, ys, yerr=err, fmt="o", color="tab:blue", capsize=3)
    for x, y, r in zip(xs, ys, points, strict=True):
        ax.annotate(str(r.get("label", "")), (x, y), textcoords="offset points", xytext=(4, 4))
    ax.set_xscale("log")
    ax.set_xlabel("parameters added per domain")
    ax.set_ylabel("mean accuracy over domains (%)" + (" ± 95 % CI" if any(err) else ""))
    ax.set_title("MAD: accuracy vs added parameters")
    ax.grid(True, alpha=0.3)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def search_report(rows: Sequence[dict[str, Any]], directory: str) -> None:
    """After a MAD search: accuracy vs parameters added per domain, one point per rank
    (its best completed trial), as ``acc_vs_params.png`` and ``acc_vs_params.csv``."""
    import csv

    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        m, cfg = row["metrics"], row["config"]
        if row["outcome"] != "completed" or "val/acc" not in m:
            continue
        label = (
            cfg.get("mode", "mad")
            if cfg.get("mode", "mad") != "mad"
            else (f"I={cfg['rank']}" if cfg.get("rank") else "full")
        )
        point = {
            "label": label,
            "params": float(m.get("val/params_adapter", 0.0)),
            "acc": float(m["val/acc"]),
        }
        if label not in best or point["acc"] > best[label]["acc"]:
            best[label] = point
    if not best:
        return
    accuracy_vs_params_plot(list(best.values()), Path(directory) / "acc_vs_params.png")
    with open(Path(directory) / "acc_vs_params.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["label", "params", "acc"])
        writer.writeheader()
        writer.writerows(sorted(best.values(), key=lambda p: p["params"]))
