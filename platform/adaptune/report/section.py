"""One search's report: its artifacts written to a folder, and its part of the HTML page.

    parts, files = render_search(client, run, Path("out"))   # files: names written to out/

A multi-stage job page is several of these sections (level 3 headings under a stage).
"""

from __future__ import annotations

import base64
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from adaptune.job.pricing import dollars
from adaptune.report import plots
from adaptune.report.champion import champion_info
from adaptune.report.data import Search, load_search
from adaptune.report.html import esc, fmt, heading, image, link, paragraph, table
from adaptune.report.importance import importances
from adaptune.report.links import RunLinks
from adaptune.report.tables import (
    best_row,
    best_so_far,
    milestones,
    rung_rows,
    summary_rows,
    trial_rows,
    write_csv,
)
from adaptune.tracking.names import Cost, Param, SearchMetric, Tag

__all__ = ["OUR_FILES", "render_search"]

# What the report writes under report/ (the method's own report files sit beside them).
OUR_FILES = (
    "trials.csv",
    "best_so_far",
    "curves",
    "rungs",
    "importance",
    "parallel_coordinates",
    "slice_",
)
ROUGH_BELOW = 10  # trials: fewer and the importance chart says it is a rough estimate


def _save(fig: Any, out: Path, name: str, files: list[str]) -> Path:
    path = out / f"{name}.png"
    fig.savefig(path, dpi=100)
    files.append(path.name)
    return path


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


SCHEDULER_NAMES = {"asha": "ASHA", "hyperband": "HyperBand", "median": "median stopping"}


def _scheduler(search: Search) -> str:
    if search.scheduler == "hyperband":
        return (
            f"hyperband, reduction factor {fmt(search.reduction_factor)}, max_t "
            f"{search.max_t} epochs"
        )
    if search.scheduler == "median":
        return f"median stopping from epoch {fmt(search.grace_period)}, {search.max_t} epochs"
    if search.scheduler != "asha":
        return f"{search.scheduler}, {search.max_t} epochs"
    return (
        f"asha, grace {fmt(search.grace_period)}, reduction factor "
        f"{fmt(search.reduction_factor)}, max_t {search.max_t} epochs"
    )


def _objectives(search: Search) -> list[tuple[str, Any]]:
    """A multi-objective search's objectives, and what its winner was picked on."""
    objectives = search.params.get(Param.OBJECTIVES)
    if not objectives:
        return []
    pairs = [o.rsplit(":", 1) for o in objectives.split(",")]
    first = pairs[0][0]
    return [
        ("Pareto front over", ", ".join(f"{m} ({d})" for m, d in pairs)),
        ("early stopping on", f"{first} only; the winner is picked on the front (pareto.png)"),
    ]


def _overview(search: Search) -> str:
    counts = {s: sum(t.status == s for t in search.trials) for s in plots.STATUS_COLOURS}
    wall = search.metrics.get(SearchMetric.WALL_S)
    rows: list[tuple[str, Any]] = [
        ("method", search.tags.get(Tag.METHOD, "")),
        ("objective", f"{search.metric} ({search.mode})"),
        *_objectives(search),
        ("sampler", search.params.get(Param.SAMPLER, "")),
        ("scheduler", _scheduler(search)),
        ("trials", ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"),
        ("searched", ", ".join(search.space) or "(unknown)"),
        ("trial-epochs run", sum(t.epochs_run for t in search.trials)),
        ("wall time", f"{wall / 60:.1f} min" if wall is not None else "(not finished)"),
    ]
    for res, amount in search.per_trial.items():
        used = sum(t.wall_s for t in search.trials) * amount / 3600
        saved = search.metrics.get(
            SearchMetric.hours_saved(res), search.metrics.get(SearchMetric.legacy_hours_saved(res))
        )
        extra = ""
        if saved is not None:  # the share of running every trial to the end
            share = 100 * saved / (used + saved) if used + saved > 0 else 0.0
            extra = f" (saved by early stopping {saved:.3f}, {share:.0f}% of the full cost)"
        rows.append((f"{res}-hours used", f"{used:.3f}{extra}"))
    rows.extend(_cost(search))
    rows.append(("MLflow search run", search.run_id))
    body = "".join(
        f"<tr><th class=text>{esc(k)}</th><td class=text>{esc(fmt(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def _cost(search: Search) -> list[tuple[str, Any]]:
    """The cost ledger's rows: USD spent (by node type) and saved by early stopping."""
    usd = search.metrics.get(Cost.USD)
    if usd is None:  # recorded before the ledger existed
        return []
    by_type: dict[str, float] = {}
    for t in search.trials:
        by_type[t.node_type or "?"] = by_type.get(t.node_type or "?", 0.0) + (t.usd or 0.0)
    where = ", ".join(
        f"{k} {dollars(v)}" if len(by_type) > 1 else k for k, v in sorted(by_type.items())
    )
    saved = search.metrics.get(Cost.USD_SAVED, 0.0)
    return [
        ("cost", f"{dollars(usd)} ({where})" if where else dollars(usd)),
        ("cost saved by early stopping", dollars(saved)),
    ]


def _best(search: Search, rows: list[dict[str, Any]], links: RunLinks) -> str:
    b = best_row(search, rows)
    if b is None:
        return paragraph("No trial completed, so there is no best trial.", note=True)
    params = ", ".join(f"{k}={fmt(b[k])}" for k in search.space)
    text = f"Best trial {b['trial_id']}: {search.metric} = {fmt(b['final_value'])} ({params}). "
    run = link("Open its MLflow run", links.run(b["run_id"]))
    runs = link("all trials", links.search(search.name))
    return f'<p class="best">{esc(text)}{run} · {runs}</p>'


def _curves(search: Search, best: str | None, out: Path, files: list[str], level: int) -> list[str]:
    """Each trial's objective per epoch: why the winner won, and where the others were
    stopped."""
    if not any(t.history for t in search.trials):
        return []
    fig = plots.curves_plot(search, best, milestones(search))
    return [heading("Learning curves", level), image(_save(fig, out, "curves", files))]


def _champion(client: MlflowClient, search: Search, level: int) -> list[str]:
    champ = champion_info(client, search)
    parts = [heading(f"Champion ({champ.model_name or 'no model'})", level)]
    parts.append(paragraph(champ.verdict))
    if champ.rows:
        parts.append(table(champ.rows))
    return parts


def _curve(search: Search, out: Path, files: list[str], level: int) -> list[str]:
    curve = best_so_far(search.trials, search.mode, search.start_ms)
    parts = [heading("Best so far vs compute", level)]
    if not curve:
        return [*parts, paragraph("No trial reported the objective yet.", note=True)]
    write_csv(curve, out / "best_so_far.csv")
    files.append("best_so_far.csv")
    fig = plots.best_so_far_plot(curve, search.metric, search.mode)
    return [*parts, image(_save(fig, out, "best_so_far", files))]


def _importance(search: Search, out: Path, files: list[str], level: int) -> list[str]:
    imp = importances(search, milestones(search))
    note = f"{imp.evaluator}: {imp.note}" if imp.values else imp.note
    parts = [heading("Parameter importance", level), paragraph(note, note=True)]
    if imp.values:
        rows = [{"parameter": k, "importance": v} for k, v in imp.values.items()]
        write_csv(rows, out / "importance.csv")
        files.append("importance.csv")
        caveat = (
            f"rough: {imp.n_trials} trials at epoch {imp.epoch}; read it as a hint, not a ranking"
            if imp.n_trials < ROUGH_BELOW
            else ""
        )
        title = f"importance for {search.metric}"
        fig = plots.importance_plot(imp.values, title, caveat)
        parts += [table(rows), image(_save(fig, out, "importance", files))]
    return parts


def _shapes(search: Search, out: Path, files: list[str], level: int) -> list[str]:
    """Parallel coordinates and one slice per searched parameter."""
    if not search.space or not any(t.history for t in search.trials):
        return []
    parallel = _save(plots.parallel_plot(search), out, "parallel_coordinates", files)
    slices = [
        image(_save(plots.slice_plot(search, name), out, f"slice_{_safe(name)}", files))
        for name in search.space
    ]
    return [
        heading("Parallel coordinates", level),
        image(parallel),
        heading("Slices", level),
        '<div class="grid">' + "".join(slices) + "</div>",
    ]


def _rungs(search: Search, out: Path, files: list[str], level: int) -> list[str]:
    rows = rung_rows(search.trials, milestones(search))
    write_csv(rows, out / "rungs.csv")
    files.append("rungs.csv")
    name = SCHEDULER_NAMES.get(search.scheduler)
    titles = {"asha": "ASHA rungs", "hyperband": "HyperBand rungs (all brackets)"}
    title = titles.get(search.scheduler) or (
        "Median stopping: epochs compared" if name else f"Epochs reached ({search.scheduler})"
    )
    fig = plots.rungs_plot(rows, search.trials, search.max_t, title, stopper=name)
    return [heading(title, level), image(_save(fig, out, "rungs", files)), table(rows)]


def _trials(search: Search, out: Path, level: int, links: RunLinks) -> list[str]:
    """The trials best first (report.tables.summary_rows: what the search selects on), the
    chosen trial's held-out test score where recorded, and trials.csv to download."""
    rows = summary_rows(search)
    chosen = (best_row(search, trial_rows(search)) or {}).get("trial_id")
    short = [
        {
            **{k: v for k, v in r.items() if k != "run_id"},
            "node_id": str(r.get("node_id") or "")[:12],
            "row": "best" if r["trial_id"] == chosen else r["status"],
        }
        for r in rows
    ]
    columns = list(dict.fromkeys(k for r in short for k in r if k != "row"))
    csv = base64.b64encode((out / "trials.csv").read_bytes()).decode("ascii")
    download = f'<a download="trials.csv" href="data:text/csv;base64,{csv}">trials.csv</a>'
    note = (
        f"Best first by {search.metric} at each trial's last epoch (val: what the search "
        "selects on); test/* columns are the chosen trial's held-out test scores, seen once. "
        f"A trial id opens its MLflow run. {links.note()} Built "
        f"{dt.datetime.now():%Y-%m-%d %H:%M} from the MLflow store."
    )
    urls = {r["trial_id"]: links.run(r["run_id"]) for r in rows if r.get("run_id")}
    return [
        heading(f"Trials ({len(rows)})", level),
        table(short, columns, row_class="row", links=urls),
        f"<p class=note>Every trial's full config: {download}. {esc(note)}</p>",
    ]


def render_search(
    client: MlflowClient, run: Any, out: Path, level: int = 2, ui: str | None = None
) -> tuple[list[str], list[str]]:
    """Write the search's report files into `out`; return (HTML parts, file names).
    `ui`: the MLflow UI's address for the links (default: report.links.RunLinks.of's)."""
    search = load_search(client, run)
    links = RunLinks.of(client.tracking_uri, search.experiment_id, ui)
    files: list[str] = []
    rows = trial_rows(search)
    write_csv(rows, out / "trials.csv")
    files.append("trials.csv")
    best = best_row(search, rows)
    parts = [_overview(search), _best(search, rows, links)]
    parts += _champion(client, search, level)
    parts += _curves(search, best["trial_id"] if best else None, out, files, level)
    parts += _curve(search, out, files, level)
    parts += _importance(search, out, files, level)
    parts += _shapes(search, out, files, level)
    parts += _rungs(search, out, files, level)
    with tempfile.TemporaryDirectory() as tmp:
        method_files = method_report_files(client, run.info.run_id, Path(tmp))
        if method_files:
            parts.append(heading("Method report", level))
            parts += [image(p) for p in method_files]
    parts += _trials(search, out, level, links)
    return parts, files


def method_report_files(client: MlflowClient, run_id: str, dest: Path) -> list[Path]:
    """The method's own report images (e.g. MAD's acc_vs_params.png) already logged under
    report/, fetched so the page can embed them."""
    out = []
    try:
        listed = client.list_artifacts(run_id, "report")
    except Exception:
        return []
    for item in listed:
        name = Path(item.path).name
        if item.is_dir or not name.endswith(".png") or name.startswith(OUR_FILES):
            continue
        out.append(Path(client.download_artifacts(run_id, item.path, str(dest))))
    return out
