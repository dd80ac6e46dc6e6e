"""How a search reads in MLflow's UI: run names that carry the outcome, rounded copies of
the searched params, metrics without Ray's bookkeeping, and a Markdown note per run.

    run_name("ab12", Status.STOPPED, epoch=1)     # "stopped@1 ab12"
    trial_metrics(result)                         # the method's metrics, epoch, wall_s
    searched_params({"lr": 0.000566123}, ["lr"])  # {"search/lr": "0.0005661"}

Plain functions of plain values: the recorder and finish write what they return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from adaptune.driver.results import cost_line, short
from adaptune.driver.rungs import Cut
from adaptune.job.objective import Mode
from adaptune.tracking.names import SEARCHED_PARAM_PREFIX, Kind, Status, Tag, TrialMetric
from adaptune.train import report as rk

__all__ = [
    "run_name",
    "search_note",
    "searched_params",
    "shared_view",
    "trial_metrics",
    "trial_note",
]


def trial_metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    """A Tune result as the trial run's metrics: Ray's bookkeeping dropped, its running
    wall time kept as ``wall_s`` (the report's compute accounting reads it)."""
    out = {k: v for k, v in result.items() if k not in rk.ray_keys()}
    if isinstance(result.get(rk.TIME_TOTAL_S), int | float):
        out[TrialMetric.WALL_S] = float(result[rk.TIME_TOTAL_S])
    return out


def searched_params(config: Mapping[str, Any], space: Iterable[str]) -> dict[str, str]:
    """Rounded copies of the searched values, under ``search/<name>``."""
    return {f"{SEARCHED_PARAM_PREFIX}{k}": short(config[k]) for k in space if k in config}


def run_name(trial_id: str, status: Status, epoch: int | None = None, best: bool = False) -> str:
    """The outcome first (the runs table cuts long names): "stopped@1 ab12"."""
    if best:
        return f"★ best {trial_id}"
    if status is Status.STOPPED and epoch is not None:
        return f"stopped@{epoch} {trial_id}"
    return f"{status.value} {trial_id}"


def shared_view(search: str, metric: str, mode: str, space: Iterable[str]) -> dict[str, Any]:
    """The runs-table view a search saves for MLflow's UI: its trials, best first, with
    the objective, the rounded searched values and the outcome as columns."""
    columns = [f"metrics.`{metric}`"]
    columns += [f"params.`{SEARCHED_PARAM_PREFIX}{k}`" for k in space]
    columns += [f"tags.`{Tag.STATUS_TEXT}`", "attributes.`Models`"]
    return {
        "searchFilter": f"tags.`{Tag.SEARCH}` = '{search}' and tags.`{Tag.KIND}` = '{Kind.TRIAL}'",
        "orderByKey": f"metrics.`{metric}`",
        "orderByAsc": mode == "min",
        "selectedColumns": columns,
    }


def _table(values: Mapping[str, Any]) -> str:
    rows = "".join(f"| {k} | {short(v)} |\n" for k, v in values.items())
    return f"| searched | value |\n|---|---|\n{rows}" if rows else ""


def trial_note(
    trial_id: str,
    status: Status,
    text: str,
    *,
    metric: str,
    history: Mapping[int, float],
    searched: Mapping[str, Any],
    search: str,
    mode: str,
    cut: Cut | None = None,
    error: str = "",
) -> str:
    """A trial run's description: its outcome in words and numbers, then its searched
    values. `history` is the objective per epoch (what the recorder saw)."""
    lines = [f"**{text}**"]
    if history:
        last = max(history)
        best = Mode(mode).best(history, key=history.__getitem__)
        lines.append(f"{metric} {history[last]:.4g} at epoch {last}")
        if best != last:
            lines[-1] += f" (its best, {history[best]:.4g}, at epoch {best})"
    if status is Status.STOPPED and cut is not None and not cut.passed:
        lines.append(f"stopped: {cut.text(metric)}")
    if status is Status.ERRORED and error:
        lines.append(f"error (last line): `{error.strip().splitlines()[-1][:300]}`")
    body = "  \n".join(lines)
    charts = "Charts: step is the epoch, except `<method>_step/…` series (optimiser steps)."
    return f"{body}\n\n{_table(searched)}\nTrial {trial_id} of search {search}. {charts}\n"


def search_note(
    summary: Any,
    *,
    method: str,
    scheduler: str,
    experiment_id: str,
    alias: str = "champion",
    report: str | None = None,
) -> str:
    """The search run's description: the counts, the best trial (linked), what early
    stopping saved, the champion and where the report is. `summary`: a SearchSummary."""
    s = summary
    lines = [
        f"### {s.search}: {s.trials} trials of {method} in {s.wall_s / 60:.1f} min",
        "",
        "| trials | completed | stopped early | errored |",
        "|---|---|---|---|",
        f"| {s.trials} | {s.completed} | {len(s.stopped)} | {len(s.errored)} |",
        "",
    ]
    if s.best_trial and s.best_value is not None:
        run = f"#/experiments/{experiment_id}/runs/{s.best_run_id}?workflowType=machine_learning"
        link = f" ([its run]({run}))"
        params = ", ".join(f"{k} = {short(v)}" for k, v in s.best_params.items())
        lines.append(
            f"**Best trial {s.best_trial}**: {s.metric} = {s.best_value:.6g} ({s.mode})"
            f"{link if s.best_run_id else ''}  \n{params}"
        )
    else:
        lines.append("**No trial completed**, so there is no best trial.")
    if getattr(s, "ended_by", ""):
        lines.append(f"\nEnded by {s.ended_by}: no new trial started, the running ones stopped.")
    for res, used in s.resource_hours.items():
        saved = s.saved_hours.get(res, 0.0)
        if saved > 0:
            share = 100 * saved / (used + saved)
            lines.append(
                f"\n{scheduler} stopped {len(s.stopped)} trials early: {res}-hours used "
                f"{used:.3f}, saved {saved:.3f} ({share:.0f}% of running every trial to the end)."
            )
    if s.resource_hours:
        cost = cost_line(s)
        lines.append(f"\n{cost[0].upper()}{cost[1:]}.")
    p = s.promotion
    if p is not None:
        ver = f" v{p.version}" if p.version else ""
        state = "promoted" if p.promoted else "not promoted"
        lines.append(f"\nChampion: {p.model_name}{ver} {state}: {p.reason}")
        if p.promoted:
            from adaptune.tracking import mlflow_env

            lines.append(
                f"serve it: `{mlflow_env(s.tracking_uri)}mlflow models serve "
                f"-m models:/{p.model_name}@{alias} "
                "--env-manager local`"
            )
    if s.errored:
        lines.append(f"\nErrored: {', '.join(s.errored)} (their runs hold the error).")
    if report:
        lines.append(f"\nReport: `{report}` (also this run's report/report.html)")
    return "\n".join(lines) + "\n"


class Presentation:
    """One search's presentation state: each trial's objective per epoch, ASHA's rungs
    (replayed; a resumed search has no cutoffs, its early results are not here), the
    progress counts. The recorder asks it what to write and say; it emits the events."""

    def __init__(
        self,
        plan: Any,
        search: str,
        scheduler: str,
        resumed: bool = False,
        total: int | None = None,
    ):
        from adaptune.driver.console import Progress
        from adaptune.driver.rungs import AshaRungs

        s = plan.job.the_search.scheduler
        self.search, self.scheduler = search, scheduler
        self.metric, self.mode, self.space = plan.metric, plan.mode, list(plan.space)
        self.rungs = (
            AshaRungs(s.grace_period, plan.max_t, s.reduction_factor, plan.mode)
            # ASHA stops on the first objective: replayable when that is the one shown
            if s.type == "asha"
            and not resumed
            and plan.objectives[:1] in ((), ((plan.metric, plan.mode),))
            else None
        )
        self.history: dict[str, dict[int, float]] = {}
        self.config: dict[str, dict[str, Any]] = {}
        total = plan.num_samples if total is None else total
        self.progress = Progress(
            total=total, max_t=plan.max_t, metric=plan.metric, started_s=self.console.elapsed()
        )

    @property
    def console(self) -> Any:
        """The process's console (not held: Tune pickles the callback with its state)."""
        from adaptune.driver.console import CONSOLE

        return CONSOLE

    def searched(self, trial_id: str) -> dict[str, Any]:
        config = self.config.get(trial_id, {})
        return {k: config[k] for k in self.space if k in config}

    def started(self, trial_id: str, config: Mapping[str, Any]) -> tuple[dict[str, str], str]:
        """(extra params: the rounded searched values, the run's first note)."""
        self.config[trial_id] = dict(config)
        self.progress.epochs.setdefault(trial_id, 0)
        self.console.emit("trial_started", trial=trial_id, config=self.searched(trial_id))
        self.console.progress(self.progress)
        note = self._note(trial_id, Status.RUNNING, "running", history={})
        return searched_params(config, self.space), note

    def _note(self, trial_id: str, status: Status, text: str, **extra: Any) -> str:
        """The trial run's note (trial_note), with this search's names and its values."""
        return trial_note(
            trial_id,
            status,
            text,
            metric=self.metric,
            searched=self.searched(trial_id),
            search=self.search,
            mode=self.mode,
            **extra,
        )

    def result(self, trial_id: str, result: Mapping[str, Any]) -> dict[str, Any]:
        """The metrics to log for a Tune result; remembers the objective and the rung."""
        epoch, value = int(result.get(rk.EPOCH, 0)), result.get(self.metric)
        self.progress.epochs[trial_id] = max(epoch, self.progress.epochs.get(trial_id, 0))
        self.progress.reported_s = self.console.elapsed()
        if isinstance(value, int | float):
            now = float(value)
            self.history.setdefault(trial_id, {})[epoch] = now
            known = [] if self.progress.best is None else [self.progress.best]
            self.progress.best = Mode(self.mode).best([*known, now], key=float)
            if self.rungs is not None:
                self.rungs.on_result(trial_id, epoch, now)
        self.console.emit("trial_result", trial=trial_id, epoch=epoch, **{self.metric: value})
        self.console.progress(self.progress)
        return trial_metrics(result)

    def ended(
        self, trial_id: str, status: Status, text: str, epoch: int | None, error: str = ""
    ) -> tuple[str, str, str]:
        """(run name, note, the console's words for it)."""
        cut = self.rungs.cuts.get(trial_id) if self.rungs is not None else None
        cut = cut if status is Status.STOPPED and cut is not None and not cut.passed else None
        self.progress.ended[trial_id] = status.value
        history = self.history.get(trial_id, {})
        note = self._note(trial_id, status, text, history=history, cut=cut, error=error)
        words = f"{text}: {cut.text(self.metric)}" if cut else text
        self.console.emit(
            "trial_finished",
            trial=trial_id,
            status=status.value,
            epoch=epoch,
            value=history[max(history)] if history else None,
            cutoff=cut.cutoff if cut else None,
            text=words,
        )
        return run_name(trial_id, status, epoch), note, words

    def show_progress(self, ended: bool = False) -> None:
        self.console.progress(self.progress, ended=ended)
        if ended:
            self.console.emit("progress", **self.progress.counts(), best=self.progress.best)
