"""After a DALLMi search: DALLMi vs. its baselines across label-availability rates.

    cells = comparison(rows)          # one Cell per (mode, revealed) seen in the search
    print(pivot_markdown(cells))      # rows = mode, columns = revealed rate, cell = mAP
    search_report(rows, "out/")       # comparison.csv, comparison.md, comparison.png

`rows` are the search's trials (``Method.search_report``): "trial_id", "outcome",
"config" (the resolved DALLMiConfig as a dict) and the last epoch's "metrics". Only
completed trials count. Trials are grouped by (mode, revealed); within a group, trials
whose configs differ only in ``seed`` are repeats of one setting, and the group's cell
is its best setting by mean target mAP, given as mean ± sample std over its seeds. So
the comparison grid (jobs/dallmi_compare.yaml: one setting per cell) reports every
trial, and a search over other knobs as well reports each cell's tuned setting.
A search that varied neither mode nor revealed has one cell and gets no report.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import METRICS

__all__ = [
    "comparison",
    "pivot_markdown",
    "search_report",
]

# table order: the method, then its baselines, then the headroom
MODES = ("dallmi", "pu_bce", "source_only", "oracle")
MODE_NAMES = {
    "dallmi": "DALLMi",
    "pu_bce": "PU-BCE",
    "source_only": "source-only",
    "oracle": "oracle (all labels)",
}
GROUP_KEYS = ("mode", "revealed")
REPEAT_KEYS = ("seed",)  # configs differing only here are repeats of one setting


@dataclass(frozen=True)
class Cell:
    mode: str
    revealed: float | None  # None: the rate came from data.options.revealed
    trial_ids: tuple[str, ...]  # the trials (seeds) of the cell's setting
    mean: dict[str, float]  # every val/ metric the trials share -> mean over them
    std: dict[str, float]  # -> sample standard deviation (0 for a single trial)

    @property
    def n(self) -> int:
        return len(self.trial_ids)


def _setting(config: dict[str, Any]) -> str:
    return repr(sorted((k, v) for k, v in config.items() if k not in GROUP_KEYS + REPEAT_KEYS))


def _revealed(config: dict[str, Any]) -> float | None:
    value = config.get("revealed")
    return None if value is None else float(value)


def _order(cell: Cell) -> tuple[int, str, float]:
    rank = MODES.index(cell.mode) if cell.mode in MODES else len(MODES)
    return rank, cell.mode, -1.0 if cell.revealed is None else cell.revealed


def comparison(rows: Sequence[dict[str, Any]], metric: str = "val/map") -> list[Cell]:
    """One cell per (mode, revealed), ordered DALLMi, PU-BCE, source-only, then by rate."""
    groups: dict[tuple[str, float | None], dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        if row.get("outcome") != "completed" or metric not in row.get("metrics", {}):
            continue
        cfg = row["config"]
        key = (str(cfg.get("mode", "dallmi")), _revealed(cfg))
        groups.setdefault(key, {}).setdefault(_setting(cfg), []).append(row)
    cells = []
    for (mode, revealed), settings in groups.items():
        best = max(
            settings.values(),
            key=lambda trials: statistics.fmean(float(t["metrics"][metric]) for t in trials),
        )
        names = set.intersection(
            *(
                {k for k, v in t["metrics"].items() if k.startswith("val/") and _number(v)}
                for t in best
            )
        )
        values = {k: [float(t["metrics"][k]) for t in best] for k in names}
        cells.append(
            Cell(
                mode=mode,
                revealed=revealed,
                trial_ids=tuple(str(t["trial_id"]) for t in best),
                mean={k: statistics.fmean(v) for k, v in values.items()},
                std={k: statistics.stdev(v) if len(v) > 1 else 0.0 for k, v in values.items()},
            )
        )
    return sorted(cells, key=_order)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _rate(revealed: float | None) -> str:
    return "data.options" if revealed is None else f"{100 * revealed:g} %"


def _columns(cells: Sequence[Cell]) -> list[float | None]:
    rates = {c.revealed for c in cells}
    return sorted(rates, key=lambda r: -1.0 if r is None else r)


def _modes(cells: Sequence[Cell]) -> list[str]:
    return list(dict.fromkeys(c.mode for c in cells))  # cells are already in table order


def _value(cell: Cell | None, metric: str, digits: int) -> str:
    if cell is None or metric not in cell.mean:
        return "–"
    text = f"{cell.mean[metric]:.{digits}f}"
    return f"{text} ± {cell.std[metric]:.{digits}f}" if cell.n > 1 else text


def pivot_markdown(cells: Sequence[Cell], metric: str = "val/map", digits: int = 3) -> str:
    """A markdown table: rows = mode, columns = revealed rate, cell = mean (± std)."""
    at = {(c.mode, c.revealed): c for c in cells}
    cols = _columns(cells)
    lines = [
        "| mode | " + " | ".join(_rate(r) for r in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for mode in _modes(cells):
        values = [_value(at.get((mode, r)), metric, digits) for r in cols]
        lines.append(f"| {MODE_NAMES.get(mode, mode)} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def _metric_names(cells: Sequence[Cell]) -> list[str]:
    seen = {k for c in cells for k in c.mean}
    return [m for m in METRICS if m in seen] + sorted(seen - set(METRICS))


def write_csv(cells: Sequence[Cell], path: str | Path) -> Path:
    """Long format: one line per cell, a mean and a _std column per metric."""
    metrics = _metric_names(cells)
    out = Path(path)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["mode", "revealed", "n", "trial_ids", *(c for m in metrics for c in (m, f"{m}_std"))]
        )
        for cell in cells:
            writer.writerow(
                [
                    cell.mode,
                    "" if cell.revealed is None else cell.revealed,
                    cell.n,
                    "|".join(cell.trial_ids),
                    *(
                        v
                        for m in metrics
                        for v in (
                            (f"{cell.mean[m]:.6g}", f"{cell.std[m]:.6g}")
                            if m in cell.mean
                            else ("", "")
                        )
                    ),
                ]
            )
    return out


def write_markdown(cells: Sequence[Cell], path: str | Path) -> Path:
    seeds = sorted({c.n for c in cells})
    spread = (
        "one trial per cell"
        if seeds == [1]
        else f"mean ± sample std over {'/'.join(map(str, seeds))} seeds"
    )
    parts = [
        "# DALLMi vs. baselines by label availability\n",
        "Rows: adaptation mode; columns: revealed fraction of each label's target-train "
        f"positives; target validation metrics after the last epoch ({spread}; per cell the "
        "best setting by mean mAP when other knobs were searched too).\n",
        "## Target mAP (val/map)\n",
        pivot_markdown(cells, "val/map"),
        "## Macro F1 at the threshold (val/macro_f1)\n",
        pivot_markdown(cells, "val/macro_f1"),
    ]
    labels = sorted({k for c in cells for k in c.mean if k.startswith("val/ap/")})
    if labels:
        head = "| mode | revealed | " + " | ".join(k.removeprefix("val/ap/") for k in labels)
        rows = [
            f"| {MODE_NAMES.get(c.mode, c.mode)} | {_rate(c.revealed)} | "
            + " | ".join(_value(c, k, 3) for k in labels)
            + " |"
            for c in cells
        ]
        table = "\n".join([head + " |", "|---|---|" + "---|" * len(labels), *rows])
        parts += ["## Per-label AP (val/ap/<label>)\n", table + "\n"]
    out = Path(path)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


def comparison_plot(cells: Sequence[Cell], path: str | Path, metric: str = "val/map") -> Path:
    """Target mAP against the revealed rate, one line per mode (error bars: std)."""
    import matplotlib

    matplotlib.use("Agg")  # headless: workers and CI have no display
    import matplotlib.pyplot as plt

    if not cells:
        raise ValueError("no cells to plot")
    cols = _columns(cells)
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode in _modes(cells):
        mine = [c for c in cells if c.mode == mode and metric in c.mean]
        xs = [cols.index(c.revealed) for c in mine]
        ax.errorbar(
            xs,
            [c.mean[metric] for c in mine],
            yerr=[c.std[metric] for c in mine],
            marker="o",
            capsize=3,
            label=MODE_NAMES.get(mode, mode),
        )
    ax.set_xticks(range(len(cols)), [_rate(r) for r in cols])
    ax.set_xlabel("revealed target positives per label")
    ax.set_ylabel(f"target {metric}")
    ax.set_title("DALLMi vs. baselines by label availability")
    ax.grid(True, alpha=0.3)
    ax.legend()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def search_report(rows: Sequence[dict[str, Any]], directory: str) -> None:
    """comparison.csv / .md / .png when the search compared two or more cells."""
    cells = comparison(rows)
    if len(cells) < 2:
        return
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    write_csv(cells, root / "comparison.csv")
    write_markdown(cells, root / "comparison.md")
    comparison_plot(cells, root / "comparison.png")
