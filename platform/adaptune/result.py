"""A finished search (or job) as Python objects, read from the MLflow store alone.

    result = at.search(job)                 # or at.load("quickstart-20261207-101500-3f2a")
    result.best.config, result.best.val, result.best.test
    result.trials_df()                      # one row per trial (pandas)
    result.comparison_df()                  # a comparison job: one row per arm

`at.search` returns what `at.load` reads back for the same name, so a result from a live
search and one loaded a month later are the same tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptune import tracking
from adaptune.job.objective import Mode
from adaptune.method import TEST_PREFIX
from adaptune.tracking.names import Cost, Kind, SearchMetric, Tag

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Best", "Champion", "SearchResult", "load_result"]


@dataclass(frozen=True)
class Best:
    """The trial the search chose on val: its searched config (typed), its val score and
    its held-out test scores (scored once, never used to choose)."""

    trial_id: str
    config: dict[str, Any]
    val: float
    test: dict[str, float]
    run_id: str
    model_uri: str | None


@dataclass(frozen=True)
class Champion:
    """What promotion did with the chosen trial: the registered model, its version, and
    whether the alias moved to it (and why, or why not)."""

    model_name: str
    version: str | None
    promoted: bool
    reason: str


@dataclass
class SearchResult:
    name: str  # what `adaptune show` and `at.load` take
    kind: str  # "search" | "job" (stages or a comparison's arms)
    run_id: str  # the MLflow search (or job) run
    tracking_uri: str
    metric: str
    mode: str
    best: Best | None = None
    # the best config re-trained with fresh seeds (final.seeds): per test metric
    # {"mean", "std", "ci95", "n"}
    final: dict[str, dict[str, float]] = field(default_factory=dict)
    champion: Champion | None = None
    cost: dict[str, float] = field(default_factory=dict)  # usd, usd_saved, cpu/gpu hours
    report_path: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)  # trials, completed, stopped, errored
    parts: list[SearchResult] = field(default_factory=list)  # a job's stages or arms
    arms: list[str] = field(default_factory=list)  # a comparison's arm names, in order
    # the driver's summaries (driver/results.py SearchSummary), on a live result only
    summaries: list[Any] = field(default_factory=list, repr=False)

    @property
    def completed(self) -> int:
        return sum(p.counts.get("completed", 0) for p in self.parts or [self])

    def trials_df(self) -> pd.DataFrame:
        """One row per trial, best first (report.tables.summary_rows): search, trial_id,
        status, stop_epoch, epochs, best and last objective, test/* where recorded, every
        searched param, cost_usd, node_id, run_id."""
        import pandas as pd

        if self.parts:
            return pd.concat([p.trials_df() for p in self.parts], ignore_index=True)
        from adaptune.library import library_mode
        from adaptune.report.data import load_search
        from adaptune.report.tables import summary_rows

        with library_mode(quiet=True, tune=False):
            client = tracking.setup(self.tracking_uri)
            search = load_search(client, client.get_run(self.run_id))
        return pd.DataFrame([{"search": self.name, **r} for r in summary_rows(search)])

    def comparison_df(self) -> pd.DataFrame:
        """A comparison job's arms from its results record (results/<job>.json on the job
        run; driver/claim.py): `arm`, `search`, `val_best` (what chose the arm's config),
        per compared test metric `<m>_mean`, `_std` and `_ci95` over the seeded re-runs,
        and `seeds`; `df.attrs["verdicts"]`: the paired verdicts, Holm-adjusted within
        the job but for its primary contrast, as the docs' tables show them."""
        import json
        import tempfile

        import pandas as pd

        from adaptune.library import library_mode
        from adaptune.report.comparison import comparison_rows

        if not self.arms:
            raise ValueError(f"{self.name} is not a comparison (a job with arms)")
        with library_mode(quiet=True, tune=False), tempfile.TemporaryDirectory() as tmp:
            client = tracking.setup(self.tracking_uri)
            files = [f.path for f in client.list_artifacts(self.run_id, "results")]
            if not files:
                raise ValueError(
                    f"{self.name} has no results record (made before adaptune wrote them): "
                    "run the comparison again"
                )
            record = json.loads(
                Path(client.download_artifacts(self.run_id, files[0], tmp)).read_text()
            )
        rows, verdicts = comparison_rows(record)
        df = pd.DataFrame(rows)
        df.attrs["verdicts"] = verdicts
        return df

    def lines(self) -> list[str]:
        """A short text summary (what `print(result)` shows)."""
        out = [f"{self.kind} {self.name}: {self.counts or 'see parts'}"]
        if self.best:
            out.append(
                f"best {self.best.trial_id}: {self.metric}={self.best.val:.6g} {self.best.config}"
            )
            out += [f"  {k}={v:.4g} (held-out test)" for k, v in self.best.test.items()]
        if self.champion:
            c = self.champion
            state = "promoted" if c.promoted else "not promoted"
            out.append(f"champion {c.model_name} v{c.version}: {state}: {c.reason}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def load_result(
    client: Any, name: str, state_dir: Path | None = None, champion: Any = None
) -> SearchResult:
    """The search or job called `name` (or with that run id), from MLflow alone."""
    from adaptune.tracking import find_run

    run = find_run(client, name)
    if run.data.tags.get(Tag.KIND) == Kind.JOB:
        return _job_result(client, run, state_dir)
    return _search_result(client, run, state_dir, champion)


def _search_result(client: Any, run: Any, state_dir: Path | None, champion: Any) -> SearchResult:
    tags, metrics = run.data.tags, run.data.metrics
    name = tags.get(Tag.SEARCH) or run.info.run_name
    metric = tags.get(Tag.METRIC, "")
    result = SearchResult(
        name=name,
        kind=Kind.SEARCH,
        run_id=run.info.run_id,
        tracking_uri=str(client.tracking_uri),
        metric=metric,
        mode=tags.get(Tag.MODE, "min"),
        counts={
            k: int(metrics.get(m, 0))
            for k, m in (
                ("trials", SearchMetric.TRIALS),
                ("completed", SearchMetric.COMPLETED),
                ("stopped", SearchMetric.STOPPED),
                ("errored", SearchMetric.ERRORED),
            )
        },
        cost={
            k: float(metrics[m])
            for k, m in (
                ("usd", Cost.USD),
                ("usd_saved", Cost.USD_SAVED),
                ("cpu_hours", Cost.CPU_HOURS),
                ("gpu_hours", Cost.GPU_HOURS),
            )
            if m in metrics
        },
    )
    result.best = _best(client, run, metric)
    n = len([s for s in tags.get(Tag.TEST_SCORES, "").split(",") if s])
    for key in {  # the re-runs' test metrics and their val objective (what promotion compares)
        k.removesuffix("_mean")
        for k in metrics
        if (k.startswith(TEST_PREFIX) or k == f"{metric}_mean") and k.endswith("_mean")
    }:
        result.final[key] = {
            "mean": metrics[f"{key}_mean"],
            "std": metrics.get(f"{key}_std", float("nan")),
            "ci95": metrics.get(f"{key}_ci95", float("nan")),
            "n": n,
        }
    result.champion = _champion(champion, tags.get(Tag.PROMOTION))
    report = state_dir / "reports" / f"{name}.html" if state_dir else None
    result.report_path = report if report is not None and report.exists() else None
    return result


def _best(client: Any, run: Any, metric: str) -> Best | None:
    from adaptune.job.space import parse_value
    from adaptune.report.data import load_search

    trial_id = run.data.tags.get(Tag.BEST_TRIAL)
    value = run.data.metrics.get(SearchMetric.best(metric))
    if not trial_id or value is None:
        return None
    search = load_search(client, run)
    trial = next((t for t in search.trials if t.trial_id == trial_id), None)
    if trial is None:
        return None
    best_run = client.get_run(trial.run_id)
    return Best(
        trial_id=trial_id,
        config={k: parse_value(trial.params.get(k, ""), d) for k, d in search.space.items()},
        val=float(value),
        test={
            k: float(v)
            for k, v in run.data.metrics.items()
            if k.startswith("test/") and not k.endswith(("_mean", "_std", "_ci95"))
        },
        run_id=trial.run_id,
        model_uri=best_run.data.tags.get(Tag.MODEL_URI),
    )


def _champion(live: Any, recorded: str | None) -> Champion | None:
    """The promotion's outcome: the live one, else the one recorded on the search run."""
    if live is not None:
        return Champion(live.model_name, live.version, live.promoted, live.reason)
    if not recorded:
        return None
    raw = json.loads(recorded)
    return Champion(raw["model_name"], raw.get("version"), bool(raw["promoted"]), raw["reason"])


def _job_result(client: Any, run: Any, state_dir: Path | None) -> SearchResult:
    """A multi-stage job or a comparison: its searches, in the order they ran."""
    from adaptune.tracking import child_runs

    children = child_runs(client, run.info.run_id, Kind.SEARCH)
    parts = [_search_result(client, c, state_dir, None) for c in children]
    arms = [a for a in run.data.tags.get(Tag.ARMS, "").split(",") if a]
    first = parts[0] if parts else None
    result = SearchResult(
        name=run.info.run_name,
        kind=Kind.JOB,
        run_id=run.info.run_id,
        tracking_uri=str(client.tracking_uri),
        metric=first.metric if first else "",
        mode=first.mode if first else "min",
        parts=parts,
        arms=arms if len(arms) == len(parts) else [],
    )
    done = [p for p in parts if p.best is not None]
    chosen: SearchResult | None
    if arms and done:  # a comparison: the arm the validation split prefers
        chosen = Mode(result.mode).best(done, key=lambda p: p.best.val if p.best else 0.0)
    else:  # stages: the last one's
        chosen = parts[-1] if parts else None
    if chosen is not None:
        result.best, result.final, result.champion = chosen.best, chosen.final, chosen.champion
        result.report_path = chosen.report_path
    for p in parts:
        for k, v in p.cost.items():
            result.cost[k] = result.cost.get(k, 0.0) + v
        for k, c in p.counts.items():
            result.counts[k] = result.counts.get(k, 0) + c
    return result
