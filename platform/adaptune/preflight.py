"""Everything outside the job file that a job names, opened and checked before Ray starts.

    job, problems = resolve_paths(job)          # every path the job names, made absolute
    checked = check_external(job, method, space, space_file, space_lines)
    checked.problems        # [] or SpecProblems naming file, line and key
    checked.fixed           # the fixed values with local model paths made absolute
    checked.remote_code     # what --trust-remote-code lets run, or None

plan.py resolves the paths first, the one place they are resolved: what validate checks,
the search reads and the trials receive are the same files, from any current folder. It
calls check_external once the fixed values are typed (job/values.py), which checks: the
data source is one the method reads, with options it knows; a data file is a regular,
readable file with the method's columns and sane values in every row (for 2 s at most)
(job/datafile.py), and a test file is not the training file; the train split holds at
least one batch; a backbone is a model folder (or a Hugging Face name), a
``checkpoint`` a file and an ``init_from`` a saved model of this method; the method's own
``check_inputs`` (an image folder's layout, a checkpoint's shapes); no model code runs
unless the command line confirms it.
Standard library only: ``validate`` answers in about a second.
"""

from __future__ import annotations

import dataclasses
import difflib
import filecmp
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution

from adaptune.job.backbone import lora_check
from adaptune.job.datafile import (
    CHECK_SECONDS,
    DataFileError,
    inspect_file,
    saved_dataset_problem,
)
from adaptune.job.spec import JobSpec, SpecProblem
from adaptune.job.textformats import SENTIMENT_FORMATS, read_sentiment
from adaptune.method import MODEL_METADATA, Method

__all__ = ["PREVIOUS_STAGE", "Checked", "check_external", "resolve_paths"]

PREVIOUS_STAGE = "<previous stage's best model>"  # stage k+1's init_from, known at run time
REMOTE_CODE = "trust_remote_code"
# A Hugging Face hub id: "name" or "owner/name" (it cannot be checked offline).
HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?$")


@dataclass
class Checked:
    problems: list[SpecProblem] = field(default_factory=list)
    fixed: dict[str, Any] = field(default_factory=dict)
    remote_code: str | None = None


def check_external(
    job: JobSpec,
    method: Method,
    space: dict[str, BaseDistribution],
    space_file: str,
    space_lines: dict[str, int],
    *,
    trust_remote_code: bool = False,
) -> Checked:
    out = Checked(fixed=dict(job.fixed))
    out.problems = _source_problems(job, method)
    if out.problems:
        return out
    rows, out.problems = _file_problems(job, method)
    if out.problems:
        return out
    _model_checks(job, method, space, space_file, space_lines, out)
    if not out.problems and method.check_inputs is not None:
        found = method.check_inputs(job.data, out.fixed)
        out.problems += [job.problem(key, message) for key, message in found]
    if REMOTE_CODE in space:
        out.problems.append(
            SpecProblem(
                space_file,
                space_lines.get(REMOTE_CODE),
                REMOTE_CODE,
                "never searched: it lets a model folder run its own Python code; set it in "
                "fixed and confirm with --trust-remote-code",
            )
        )
    if out.fixed.get(REMOTE_CODE) is True:
        where = out.fixed.get("backbone") or "the backbone"
        out.remote_code = f"the Python code shipped with {where}, in the driver and every trial"
        if not trust_remote_code:
            out.problems.append(
                job.problem(
                    f"fixed.{REMOTE_CODE}",
                    f"true runs {out.remote_code}; confirm with --trust-remote-code",
                )
            )
    if not out.problems:
        out.problems += _split_problems(job, method, out.fixed, space, rows)
    return out


def _source_problems(job: JobSpec, method: Method) -> list[SpecProblem]:
    d = job.data
    if method.data_sources and d.source not in method.data_sources:
        close = difflib.get_close_matches(d.source, method.data_sources, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return [
            job.problem(
                "data.source",
                f"'{d.source}' is not a {method.name} data source{hint}; "
                f"valid: {', '.join(method.data_sources)}",
            )
        ]
    if REMOTE_CODE in d.options:
        return [
            job.problem(
                f"data.options.{REMOTE_CODE}",
                "not allowed: it would run a dataset's own Python code; use a data file",
            )
        ]
    if d.source != "hf":  # an hf source hands other options to datasets.load_dataset
        for key in d.options:
            if key not in method.data_options:
                valid = ", ".join(method.data_options) or "none"
                return [
                    job.problem(
                        f"data.options.{key}",
                        f"not an option of {method.name}'s data (source '{d.source}'); "
                        f"valid: {valid}",
                    )
                ]
            low, high = method.data_option_ranges.get(key, (None, None))
            v, whole = d.options[key], isinstance(low, int)
            if (
                low is not None
                and high is not None
                and not (
                    isinstance(v, int | float)
                    and not isinstance(v, bool)
                    and (isinstance(v, int) or not whole)
                    and low <= v <= high
                )
            ):
                kind = "a whole number" if whole else "a number"
                return [job.problem(f"data.options.{key}", f"{v!r}: give {kind} in {low}..{high}")]
    columns = dict(method.data_columns)
    for ours in d.columns:
        if ours not in columns:
            valid = ", ".join(columns) or "none"
            return [
                job.problem(
                    f"data.columns.{ours}", f"not a column {method.name} reads; valid: {valid}"
                )
            ]
    if d.source in ("file", "hf", "fdu-mtl", *SENTIMENT_FORMATS) and not d.path:
        what = "a dataset name or folder" if d.source == "hf" else "a local file"
        what = "the folder of its files" if d.source == "fdu-mtl" else what
        return [job.problem("data", f"source '{d.source}' needs 'path' ({what})")]
    return []


def _bases(job: JobSpec) -> tuple[Path, Path, Path]:
    """Where a relative path is looked for: the job file's folder, its parent, the cwd."""
    here = Path(job.source_file).resolve().parent if job.source_file else Path.cwd()
    return here, here.parent, Path.cwd()


def _resolve(job: JobSpec, rel: str) -> Path:
    """A path in the spec: absolute, else next to the job file, else its parent, else cwd
    (next to the job file when none of them holds it)."""
    p = Path(os.path.expanduser(rel))
    if p.is_absolute():
        return p
    bases = _bases(job)
    found = (base / p for base in bases if (base / p).exists())
    return next(found, bases[0] / p).resolve()


def _local(job: JobSpec, rel: str) -> bool:
    """A path, not a Hugging Face name: it says so, or it exists."""
    return rel.startswith(("/", "./", "../", "~")) or _resolve(job, rel).exists()


def resolve_paths(job: JobSpec) -> tuple[JobSpec, list[SpecProblem]]:
    """The job (one search's view) with every local path it names made absolute: data.path
    (a file or folder; a Hugging Face dataset name stays), data.test_path, search.space (a
    file) and storage_path (a URI stays). A relative data path may not climb out of the
    project; the first such path is the problem."""
    d = job.data
    data: dict[str, str] = {}
    for key in ("path", "test_path"):
        rel = getattr(d, key)
        if not rel or (key == "path" and d.source == "hf" and not _local(job, rel)):
            continue  # a hub dataset name
        path = _resolve(job, rel)
        climbs = ".." in Path(rel).parts and not Path(rel).expanduser().is_absolute()
        if climbs and not any(path.is_relative_to(base) for base in _bases(job)):
            message = f"'{rel}' climbs out of the project to {path}; give an absolute path"
            return job, [job.problem(f"data.{key}", message)]
        data[key] = str(path)
    update: dict[str, Any] = {"data": d.model_copy(update=data)}
    space = job.the_search.space
    if isinstance(space, str):
        update["search"] = job.the_search.model_copy(update={"space": str(_resolve(job, space))})
    if job.storage_path and "://" not in job.storage_path:
        update["storage_path"] = str(_resolve(job, job.storage_path))
    return job.model_copy(update=update), []


def _file_problems(job: JobSpec, method: Method) -> tuple[int | None, list[SpecProblem]]:
    """The data files' rows (None: not a file source), or the first problem."""
    d = job.data
    if d.source == "fdu-mtl" and d.path:
        if not Path(d.path).is_dir():
            return None, [job.problem("data.path", f"not a folder of FDU-MTL files: {d.path}")]
        return None, []
    if d.source in SENTIMENT_FORMATS:
        rows = None
        for key in ("path", "test_path"):
            path = getattr(d, key)
            same = _same_file(d.path, path) if key == "test_path" and path else None
            if same:
                return None, [_same_problem(job, same)]
            try:
                n = len(read_sentiment(d.source, path, d.options)[0]) if path else None
            except DataFileError as e:
                return None, [job.problem(f"data.{key}", str(e))]
            rows = n if key == "path" else rows
        return rows, []
    if d.source == "hf" and d.path and Path(d.path).is_absolute():  # on local disk
        found = saved_dataset_problem(d, dict(method.data_columns))
        return None, [job.problem(*found)] if found else []
    if d.source != "file":
        return None, []
    rows = None
    for key in ("path", "test_path"):
        path = getattr(d, key)
        if path is None:
            continue
        same = _same_file(d.path, path) if key == "test_path" else None
        if same:
            return None, [_same_problem(job, same)]
        try:
            n, whole = inspect_file(Path(path), dict(method.data_columns), d.columns, d.n_train)
        except DataFileError as e:
            at = f"data.columns.{e.column}" if e.column in d.columns else f"data.{key}"
            return None, [job.problem(at, str(e))]
        if not whole:
            print(
                f"note: data.{key}: {Path(path).name}: its first {n:,} rows checked in "
                f"{CHECK_SECONDS:g} s; the search reads the rest",
                file=sys.stderr,
            )
        rows = n if key == "path" else rows
    return rows, []


def _same_problem(job: JobSpec, same: str) -> SpecProblem:
    d = job.data
    return job.problem(
        "data.test_path",
        f"{Path(str(d.test_path)).name} {same} data.path ({Path(str(d.path)).name}): the "
        "held-out test would be training data; name a file of held-out examples, "
        "or leave test_path out to carve a test share off data.path",
    )


SAME_BYTES_LIMIT = 64 * 2**20  # test files up to this size are compared byte for byte


def _same_file(train: str | None, test: str) -> str | None:
    """How `test` is the training file (the same file, or the same bytes), else None."""
    if not train or not Path(test).is_file():
        return None
    if os.path.samefile(train, test):
        return "is the same file as"
    size = Path(test).stat().st_size
    small = size == Path(train).stat().st_size <= SAME_BYTES_LIMIT
    return "has the same bytes as" if small and filecmp.cmp(train, test, shallow=False) else None


def _model_checks(
    job: JobSpec,
    method: Method,
    space: dict[str, BaseDistribution],
    space_file: str,
    space_lines: dict[str, int],
    out: Checked,
) -> None:
    """backbone: a model folder or hub name; init_from: a saved model of this method;
    checkpoint: a file. Local paths become absolute (a trial runs in its own folder)."""
    names = {f.name for f in dataclasses.fields(method.config_cls)}
    checkpoint = out.fixed.get("checkpoint") if "checkpoint" in names else None
    if isinstance(checkpoint, str) and checkpoint:  # a weights file (MAD's base)
        weights = _resolve(job, checkpoint)
        if weights.is_file():
            out.fixed["checkpoint"] = str(weights)
        else:
            message = f"no checkpoint file at {weights}"
            out.problems.append(job.problem("fixed.checkpoint", message))
    for name in ("backbone", "init_from"):
        if name not in names:
            continue
        value = out.fixed.get(name)
        if isinstance(value, str) and value != PREVIOUS_STAGE:
            path, problem = _model_path(job, method, name, value)
            if problem is not None:
                out.problems.append(job.problem(f"fixed.{name}", problem))
            elif path is not None:
                out.fixed[name] = str(path)
                if name == "backbone" and "lora_targets" in names:
                    found = lora_check(method.config_cls, out.fixed, "lora_rank" in space, path)
                    out.problems += [job.problem(*found)] if found else []
        dist = space.get(name)
        for choice in dist.choices if isinstance(dist, CategoricalDistribution) else ():
            if isinstance(choice, str):
                _, problem = _model_path(job, method, name, choice)
                if problem is not None:
                    line = space_lines.get(name)
                    out.problems.append(SpecProblem(space_file, line, name, problem))


def _model_path(
    job: JobSpec, method: Method, name: str, value: str
) -> tuple[Path | None, str | None]:
    """(the local folder, None), (None, None) for a hub name, or (None, the problem)."""
    local = _local(job, value)
    if name == "backbone" and not local:
        if HUB_NAME.match(value):
            return None, None
        return None, f"'{value}' is neither a local folder nor a Hugging Face model name"
    path = _resolve(job, value)
    if not path.is_dir():
        return None, f"no model folder at {path}"
    if name == "backbone":
        if not (path / "config.json").is_file():
            return None, f"{path} has no config.json: not a Hugging Face model folder"
        return path, None
    try:
        saved = json.loads((path / MODEL_METADATA).read_text(encoding="utf-8"))["method"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, f"{path} is not a saved model (no readable {MODEL_METADATA})"
    if saved != method.name:
        return None, f"{path} is a saved {saved} model, not a {method.name} one"
    return path, None


def _split_problems(
    job: JobSpec,
    method: Method,
    fixed: dict[str, Any],
    space: dict[str, BaseDistribution],
    rows: int | None,
) -> list[SpecProblem]:
    """The train split must hold one batch: a dropped last batch is every batch."""
    defaults = {f.name: f.default for f in dataclasses.fields(method.config_cls)}
    if "batch_size" not in defaults:
        return []
    batch = fixed.get("batch_size", defaults["batch_size"])
    dist = space.get("batch_size")
    if dist is not None:
        high = getattr(dist, "high", None)
        batch = high if high is not None else max(getattr(dist, "choices", [batch]))
    d = job.data
    n = d.n_train if rows is None else min(rows, d.n_train)
    carved = 0
    if d.source in ("file", "hf", *SENTIMENT_FORMATS) and not (d.test_path or d.test_split):
        carved = round(n * d.test_fraction)  # the test share comes off first
    val = max(1, round((n - carved) * d.val_fraction))
    train = n - carved - val
    if train >= int(batch):
        return []
    test = f", {carved} for test" if carved else ""
    return [
        job.problem(
            "data.n_train",
            f"the train split has {train} examples ({n} rows: {val} for validation{test}), "
            f"fewer than one batch of {batch}: every batch would be dropped and nothing "
            "trained; give more rows or a smaller batch_size",
        )
    ]
