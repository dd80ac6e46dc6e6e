"""The report's figures (matplotlib, Agg: no display needed); each returns a Figure.

    fig = best_so_far_plot(curve, "val/mse", "min"); fig.savefig("best_so_far.png")

Figures are built without pyplot, so nothing global is touched in the search driver.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure
from optuna.distributions import BaseDistribution, CategoricalDistribution

from adaptune.job.space import parse_value
from adaptune.report.data import Search, Trial

__all__ = [
    "best_so_far_plot",
    "curves_plot",
    "importance_plot",
    "parallel_plot",
    "rungs_plot",
    "slice_plot",
]

STATUS_COLOURS = {
    "completed": "tab:green",
    "stopped": "tab:orange",
    "errored": "tab:red",
    "running": "tab:gray",
}


def importance_plot(values: dict[str, float], title: str, caveat: str = "") -> Figure:
    """Bars per parameter; `caveat` (few trials) is written on the chart itself."""
    names = sorted(values, key=values.__getitem__)
    fig = Figure(figsize=(6.5, 0.5 * len(names) + (2.1 if caveat else 1.6)))
    ax = fig.add_subplot()
    ax.barh(names, [values[n] for n in names], color="tab:blue")
    for y, n in enumerate(names):
        ax.text(values[n], y, f" {values[n]:.2f}", va="center")
    ax.set_xlim(0, max(1.0, max(values.values(), default=0) * 1.15))
    ax.set_xlabel("importance (fANOVA, share of variance)")
    ax.set_title(title)
    if caveat:
        fig.text(0.5, 0.01, caveat, ha="center", va="bottom", color="tab:red", fontsize=9)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
    else:
        fig.tight_layout()
    return fig


def curves_plot(search: Search, best: str | None, rungs: list[int]) -> Figure:
    """The objective per epoch, one line per trial, coloured by outcome (dashed and ending
    in x: stopped early); the best trial drawn thick and labelled; the rungs dotted."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(9.0, 4.8))
    ax = fig.add_subplot()
    drawn = [t for t in search.trials if t.history]
    for t in sorted(drawn, key=lambda t: t.trial_id == best):  # the best one on top
        xs, ys = [p.epoch for p in t.history], [p.value for p in t.history]
        if t.trial_id == best:
            ax.plot(xs, ys, color="tab:blue", linewidth=3.2, marker="o", zorder=5)
            ax.annotate(
                f"best {t.trial_id}: {ys[-1]:.4g}",
                (xs[-1], ys[-1]),
                textcoords="offset points",
                xytext=(6, 6),
                color="tab:blue",
                fontweight="bold",
            )
            continue
        stopped = t.status == "stopped"
        colour = STATUS_COLOURS.get(t.status, "tab:gray")
        ax.plot(xs, ys, color=colour, linestyle="--" if stopped else "-", alpha=0.75, marker=".")
        if stopped:
            ax.plot([xs[-1]], [ys[-1]], marker="x", color="black", markersize=7)
    for r in rungs[:-1]:
        ax.axvline(r, color="black", linestyle=":", linewidth=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch" + (" (dotted: the scheduler's rungs)" if len(rungs) > 1 else ""))
    ax.set_ylabel(f"{search.metric} ({search.mode.word} is better)")
    ax.set_title(f"learning curves: {len(drawn)} trials", fontsize=10)
    handles = [
        Line2D([], [], color="tab:blue", linewidth=3.2, label="best trial"),
        Line2D([], [], color=STATUS_COLOURS["completed"], label="completed"),
        Line2D(
            [],
            [],
            color=STATUS_COLOURS["stopped"],
            linestyle="--",
            marker="x",
            markeredgecolor="black",
            label="stopped early",
        ),
    ]
    if any(t.status == "errored" for t in drawn):
        handles.append(Line2D([], [], color=STATUS_COLOURS["errored"], label="errored"))
    ax.legend(handles=handles, fontsize=8)
    fig.tight_layout()
    return fig


def _position(text: str, dist: BaseDistribution) -> float | None:
    """A param value placed on [0, 1] along its axis (log axes for log distributions)."""
    value = parse_value(text, dist)
    if value is None:
        return None
    if isinstance(dist, CategoricalDistribution):
        n = len(dist.choices)
        return dist.choices.index(value) / (n - 1) if n > 1 else 0.5
    low, high = float(getattr(dist, "low", 0)), float(getattr(dist, "high", 1))
    if getattr(dist, "log", False):
        value, low, high = math.log(value), math.log(low), math.log(high)
    return (float(value) - low) / (high - low) if high > low else 0.5


def _ends(dist: BaseDistribution) -> tuple[str, str]:
    if isinstance(dist, CategoricalDistribution):
        return str(dist.choices[0]), str(dist.choices[-1])
    return f"{getattr(dist, 'low', 0):.3g}", f"{getattr(dist, 'high', 1):.3g}"


def parallel_plot(search: Search) -> Figure:
    """One line per trial across the searched parameters to its last objective value;
    colour = that value, solid = completed, dashed = stopped early."""
    import matplotlib as mpl

    names = list(search.space)
    done = [t for t in search.trials if t.history]
    values = [t.history[-1].value for t in done]
    low, high = min(values, default=0.0), max(values, default=1.0)
    span = high - low or 1.0
    cmap = mpl.colormaps["viridis" if search.mode == "max" else "viridis_r"]
    norm = mpl.colors.Normalize(low, high if high > low else low + 1)
    fig = Figure(figsize=(max(6.0, 1.9 * (len(names) + 1)), 4.6))
    ax = fig.add_subplot()
    xs = list(range(len(names) + 1))
    for t, v in zip(done, values, strict=True):
        ys = [_position(t.params.get(n, ""), search.space[n]) for n in names]
        ys.append((v - low) / span if high > low else 0.5)
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            color=cmap(norm(v)),
            linestyle="-" if t.status == "completed" else "--",
            linewidth=2.0 if t.status == "completed" else 1.2,
            alpha=0.9,
            marker="o",
            markersize=3,
        )
    ends = [_ends(search.space[n]) for n in names] + [(f"{low:.4g}", f"{high:.4g}")]
    for x, (bottom, top) in enumerate(ends):
        ax.plot([x, x], [0, 1], color="black", linewidth=0.8, zorder=0)
        ax.text(x, -0.04, bottom, ha="center", va="top", fontsize=8)
        ax.text(x, 1.04, top, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(xs, [*names, search.metric])
    ax.tick_params(axis="x", length=0, pad=16)
    ax.set_xlim(-0.3, len(names) + 0.3)
    ax.set_yticks([])
    ax.set_ylim(-0.12, 1.12)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=search.metric)
    ax.set_title(
        f"{len(done)} trials: solid = completed, dashed = stopped early (last value)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def slice_plot(search: Search, name: str) -> Figure:
    """The objective's last value against one parameter, coloured by the trial's outcome
    (a stopped trial's value is from the epoch ASHA stopped it at)."""
    from matplotlib.ticker import MaxNLocator, NullFormatter

    dist = search.space[name]
    fig = Figure(figsize=(5.5, 4.0))
    ax = fig.add_subplot()
    done = [t for t in search.trials if t.history]
    pairs = [(parse_value(t.params.get(name, ""), dist), t) for t in done]
    if isinstance(dist, CategoricalDistribution):
        ax.set_xticks(range(len(dist.choices)), [str(c) for c in dist.choices])
        pairs = [(dist.choices.index(x), t) for x, t in pairs if x is not None]
    else:  # the whole searched range, so one sees where the trials landed in it
        low, high = float(getattr(dist, "low", 0)), float(getattr(dist, "high", 1))
        if getattr(dist, "log", False):
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide
            ax.set_xlim(low / 1.15, high * 1.15)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(5))
            pad = 0.03 * (high - low) or 0.5
            ax.set_xlim(low - pad, high + pad)
    for status, colour in STATUS_COLOURS.items():
        shown = [(x, t) for x, t in pairs if x is not None and t.status == status]
        if shown:
            ax.scatter(
                [x for x, _ in shown],
                [t.history[-1].value for _, t in shown],
                color=colour,
                s=45,
                label=f"{status} ({len(shown)})",
            )
    ax.set_xlabel(name)
    ax.set_ylabel(f"{search.metric} (last reported)")
    ax.set_title(f"slice: {name}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def best_so_far_plot(curve: list[dict[str, Any]], metric: str, mode: str) -> Figure:
    fig = Figure(figsize=(11.0, 4.0))
    for i, (key, label) in enumerate(
        (("trial_epochs", "cumulative trial-epochs"), ("wall_s", "wall time since start (min)"))
    ):
        ax = fig.add_subplot(1, 2, i + 1)
        scale = 60.0 if key == "wall_s" else 1.0
        xs = [r[key] / scale for r in curve]
        ax.scatter(xs, [r["value"] for r in curve], s=12, color="tab:gray", label="reported")
        ax.step(xs, [r["best"] for r in curve], where="post", color="tab:blue", label="best")
        ax.set_xlabel(label)
        ax.set_ylabel(metric)
        ax.set_title(f"best-so-far {metric} ({mode}) vs {label.split(' (')[0]}", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def rungs_plot(
    rungs: list[dict[str, Any]],
    trials: list[Trial],
    max_t: int,
    title: str = "ASHA rungs",
    stopper: str | None = "ASHA",
) -> Figure:
    """Left: trials reaching each rung, split by what happened there. Right: one lane per
    trial up to the epoch it reached, coloured by outcome."""
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11.0, max(3.6, 0.22 * len(trials) + 1.4)))
    ax = fig.add_subplot(1, 2, 1)
    labels = [f"epoch {r['epoch']}" for r in rungs]
    bottom = [0] * len(rungs)
    for key, colour, label in (
        ("went_on", "tab:blue", "went on"),
        ("completed_here", STATUS_COLOURS["completed"], "completed"),
        ("stopped_here", STATUS_COLOURS["stopped"], "stopped here"),
        ("errored_here", STATUS_COLOURS["errored"], "errored here"),
    ):
        heights = [r[key] for r in rungs]
        ax.bar(labels, heights, bottom=bottom, color=colour, label=label)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("trials reaching the rung")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    lanes = fig.add_subplot(1, 2, 2)
    for y, t in enumerate(trials):
        colour = STATUS_COLOURS.get(t.status, "tab:gray")
        lanes.plot([0, t.epochs_run], [y, y], color=colour, linewidth=3)
        if t.status == "stopped":
            lanes.plot([t.epochs_run], [y], marker="x", color="black")
    for r in rungs:
        lanes.axvline(r["epoch"], color="black", linestyle=":", linewidth=0.8)
    lanes.set_yticks(range(len(trials)), [t.trial_id for t in trials], fontsize=7)
    lanes.set_ylim(len(trials) - 0.5, -0.5)  # the first trial on top
    lanes.set_xlim(0, max_t + 0.3)
    lanes.set_xlabel(f"epochs run (x = stopped by {stopper})" if stopper else "epochs run")
    lanes.set_title("trials, in start order", fontsize=10)
    fig.tight_layout()
    return fig
