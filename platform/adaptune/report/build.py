"""Build a search's (or a multi-stage job's) report, log it to MLflow, keep a local copy.

    report = build_report(client, "quickstart-20261124-195948", state_dir)
    report.html    # <state>/reports/<name>.html, also the run's report/report.html

Search run artifacts under report/: trials.csv, best_so_far.png/.csv, importance.png/.csv
(when there are enough trials), parallel_coordinates.png, slice_<param>.png, rungs.png/.csv
and report.html. A job run (stages) gets report/report.html: one section per stage and
the per-domain comparison its stages logged (report/domains.csv, report/domains.png).
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from adaptune.report.html import heading, image, page, paragraph, table
from adaptune.report.section import render_with_method_files
from adaptune.tracking import find_run as tracking_find_run
from adaptune.tracking.names import Kind, Tag, stage_best_tag

__all__ = ["Report", "build_job_report", "build_report", "build_search_report", "find_run"]

REPORT_DIR = "report"
PAGE = "report.html"


@dataclass
class Report:
    name: str
    run_id: str
    html: Path  # the local copy
    files: list[str] = field(default_factory=list)  # logged under the run's report/


def _use_agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


def _publish(client: MlflowClient, run: Any, folder: Path, state_dir: Path, name: str) -> Path:
    client.log_artifacts(run.info.run_id, str(folder), artifact_path=REPORT_DIR)
    local = state_dir / "reports" / f"{name}.html"
    local.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / PAGE, local)
    return local


def build_search_report(client: MlflowClient, run: Any, state_dir: Path) -> Report:
    _use_agg()
    name = run.data.tags.get(Tag.SEARCH) or run.info.run_name
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        parts, files = render_with_method_files(client, run, out)
        title = f"adaptune search {name}"
        (out / PAGE).write_text(page(title, [heading(title, 1), *parts]), encoding="utf-8")
        html = _publish(client, run, out, state_dir, name)
    return Report(name, run.info.run_id, html, [*files, PAGE])


def _stage_runs(client: MlflowClient, job_run: Any) -> list[Any]:
    """The job's search runs, in stage order; a stage may log to its own experiment."""
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.mlflow.parentRunId = '{job_run.info.run_id}' "
        f"and tags.`{Tag.KIND}` = '{Kind.SEARCH}'",
        max_results=1000,
    )
    return sorted(runs, key=lambda r: r.info.start_time or 0)


def _domains(client: MlflowClient, job_run: Any, dest: Path) -> list[str]:
    """The per-domain comparison the job run holds (DAMA), as page parts."""
    parts: list[str] = []
    try:
        names = {Path(a.path).name for a in client.list_artifacts(job_run.info.run_id, REPORT_DIR)}
    except MlflowException:
        return parts
    tags = job_run.data.tags
    if "domains.png" in names:
        png = client.download_artifacts(job_run.info.run_id, f"{REPORT_DIR}/domains.png", str(dest))
        parts.append(image(Path(png), "per-domain accuracy"))
    if "domains.csv" in names:
        path = client.download_artifacts(
            job_run.info.run_id, f"{REPORT_DIR}/domains.csv", str(dest)
        )
        with open(path, newline="") as f:
            rows = [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(f)]
        parts.append(table(rows))
    if parts:
        verdict = (
            f"Degraded beyond tolerance: {tags.get(Tag.DEGRADED_DOMAINS, '?')}; "
            f"improved: {tags.get(Tag.IMPROVED_DOMAINS, '?')}."
        )
        parts = [
            heading("Per-domain comparison (first vs last stage)", 2),
            paragraph(verdict),
            *parts,
        ]
    return parts


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def build_job_report(client: MlflowClient, job_run: Any, state_dir: Path) -> Report:
    """One page for a multi-stage job: a section per stage, then the per-domain table."""
    _use_agg()
    name = job_run.info.run_name
    title = f"adaptune job {name}"
    stages = _stage_runs(client, job_run)
    parts = [
        heading(title, 1),
        paragraph(f"{len(stages)} stages; MLflow job run {job_run.info.run_id}."),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for i, stage in enumerate(stages, start=1):
            best = job_run.data.tags.get(stage_best_tag(i), "")
            stage_name = stage.data.tags.get(Tag.SEARCH, stage.info.run_name)
            parts.append(heading(f"Stage {i}: {stage_name}", 2))
            if best:
                parts.append(paragraph(f"Stage winner: {best}"))
            folder = out / f"stage{i}"
            folder.mkdir()
            stage_parts, _ = render_with_method_files(client, stage, folder, level=3)
            parts += stage_parts
        parts += _domains(client, job_run, out)
        publish = out / "page"
        publish.mkdir()
        (publish / PAGE).write_text(page(title, parts), encoding="utf-8")
        html = _publish(client, job_run, publish, state_dir, name)
    return Report(name, job_run.info.run_id, html, [PAGE])


def find_run(client: MlflowClient, name: str) -> Any:
    """A search run (name or run id, like `adaptune promote`), else a multi-stage job run
    by its run name or id. Raises LookupError."""
    for kind in ("search", "job"):
        try:
            return tracking_find_run(client, name, kind)
        except LookupError:
            continue
    raise LookupError(f"no search or job called '{name}' in {client.tracking_uri}")


def build_report(client: MlflowClient, name: str, state_dir: Path) -> Report:
    run = find_run(client, name)
    if run.data.tags.get(Tag.KIND) == Kind.JOB:
        return build_job_report(client, run, state_dir)
    return build_search_report(client, run, state_dir)


def report_quietly(client: MlflowClient, run_id: str, state_dir: Path) -> Path | None:
    """After a search or job: build its report; a failure is a warning, never an error."""
    try:
        run = client.get_run(run_id)
        if run.data.tags.get(Tag.KIND) == Kind.JOB:
            report = build_job_report(client, run, state_dir)
        else:
            report = build_search_report(client, run, state_dir)
    except Exception as e:  # the search itself succeeded; its report must not fail it
        print(f"warning: no report for run {run_id}: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    print(f"report: {report.html}", flush=True)
    return report.html
