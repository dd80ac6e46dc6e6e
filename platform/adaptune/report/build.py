"""Build a search's (or a multi-stage job's) report, log it to MLflow, keep a local copy.

    report = build_report(client, "quickstart-20261124-195948", state_dir)
    report.html    # <state>/reports/<name>.html, also the run's report/report.html

Search run artifacts under report/: trials.csv, best_so_far.png/.csv, importance.png/.csv
(when there are enough trials), parallel_coordinates.png, slice_<param>.png, rungs.png/.csv
and report.html. A job run gets report/report.html: one section per stage or arm, then
every image and table the job logged under report/ (the method's job report, e.g. DAMA's
domains.csv / .png; a comparison's table) and the method's tags (adaptune.<method>.*).
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
from adaptune.report.section import render_search
from adaptune.tracking import child_runs, find_run  # find_run: a search, else a job
from adaptune.tracking.names import Kind, Tag, method_tag, stage_best_tag

__all__ = ["Report", "build_report", "find_run", "report_quietly"]

REPORT_DIR = "report"
PAGE = "report.html"


@dataclass
class Report:
    name: str
    run_id: str
    html: Path  # the local copy
    files: list[str] = field(default_factory=list)  # logged under the run's report/


def _publish(client: MlflowClient, run: Any, folder: Path, state_dir: Path, name: str) -> Path:
    client.log_artifacts(run.info.run_id, str(folder), artifact_path=REPORT_DIR)
    local = state_dir / "reports" / f"{name}.html"
    local.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / PAGE, local)
    return local


def build_search_report(
    client: MlflowClient, run: Any, state_dir: Path, ui: str | None = None
) -> Report:
    name = run.data.tags.get(Tag.SEARCH) or run.info.run_name
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        parts, files = render_search(client, run, out, ui=ui)
        title = f"adaptune search {name}"
        (out / PAGE).write_text(page(title, [heading(title, 1), *parts]), encoding="utf-8")
        html = _publish(client, run, out, state_dir, name)
    return Report(name, run.info.run_id, html, [*files, PAGE])


def _job_files(client: MlflowClient, job_run: Any, dest: Path) -> list[str]:
    """What the job run holds under report/ besides its page (the method's job report and
    a comparison's table): its images and tables, and the method's tags, as page parts."""
    parts: list[str] = []
    try:
        listed = client.list_artifacts(job_run.info.run_id, REPORT_DIR)
    except MlflowException:
        return parts
    for item in sorted(listed, key=lambda a: a.path):
        name = Path(item.path).name
        if item.is_dir or name == PAGE or not name.endswith((".png", ".csv")):
            continue
        path = Path(client.download_artifacts(job_run.info.run_id, item.path, str(dest)))
        if name.endswith(".png"):
            parts.append(image(path, name))
            continue
        with open(path, newline="") as f:
            parts += [
                paragraph(name),
                table([{k: _number(v) for k, v in r.items()} for r in csv.DictReader(f)]),
            ]
    method = job_run.data.tags.get(Tag.METHOD, "")
    said = {
        k: v
        for k, v in job_run.data.tags.items()
        if method and k.startswith(method_tag(method, ""))
    }
    if said:
        parts.insert(0, paragraph("; ".join(f"{k}: {v}" for k, v in sorted(said.items()))))
    return [heading("Across the stages or arms", 2), *parts] if parts else []


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def build_job_report(
    client: MlflowClient, job_run: Any, state_dir: Path, ui: str | None = None
) -> Report:
    """One page for a multi-stage job: a section per stage, then the per-domain table."""
    name = job_run.info.run_name
    title = f"adaptune job {name}"
    stages = child_runs(client, job_run.info.run_id, Kind.SEARCH)  # in stage order
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
            stage_parts, _ = render_search(client, stage, folder, level=3, ui=ui)
            parts += stage_parts
        parts += _job_files(client, job_run, out)
        publish = out / "page"
        publish.mkdir()
        (publish / PAGE).write_text(page(title, parts), encoding="utf-8")
        html = _publish(client, job_run, publish, state_dir, name)
    return Report(name, job_run.info.run_id, html, [PAGE])


def _build(client: MlflowClient, run: Any, state_dir: Path, ui: str | None = None) -> Report:
    import matplotlib

    matplotlib.use("Agg")
    if run.data.tags.get(Tag.KIND) == Kind.JOB:
        return build_job_report(client, run, state_dir, ui)
    return build_search_report(client, run, state_dir, ui)


def build_report(client: MlflowClient, name: str, state_dir: Path, ui: str | None = None) -> Report:
    """`ui`: the MLflow UI's address the page links to (default: report.links.RunLinks)."""
    return _build(client, find_run(client, name), state_dir, ui)


def report_quietly(client: MlflowClient, run_id: str, state_dir: Path) -> Path | None:
    """After a search or job: build its report; a failure is a warning, never an error."""
    try:
        report = _build(client, client.get_run(run_id), state_dir)
    except Exception as e:  # the search itself succeeded; its report must not fail it
        print(f"warning: no report for run {run_id}: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    print(f"report: {report.html}", flush=True)
    return report.html
