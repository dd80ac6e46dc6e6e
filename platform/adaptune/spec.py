"""Job specs: YAML -> pydantic models, with errors that name file, line and key.

    job = load_job("jobs/quickstart.yaml")      # raises SpecError on any problem
    problems = validate_job(job)                 # semantic checks, no Ray started

Every error carries the file, the 1-based line and the dotted key path, so a user
can jump straight to the culprit (``jobs/x.yaml:12: search.sampler: ...``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "DataSpec",
    "JobSpec",
    "ResourceSpec",
    "SchedulerSpec",
    "SearchSpec",
    "SpecError",
    "SpecProblem",
    "load_job",
    "load_yaml",
]

Sampler = Literal["tpe", "random", "cmaes", "grid", "qmc"]


@dataclass(frozen=True)
class SpecProblem:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key or '<top>'}: {self.message}"


class SpecError(Exception):
    """One or more problems in a job spec or search space; each names file, line and key."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class KeyedValueError(ValueError):
    """A validator's error that knows its key (pydantic puts a model validator's at the top)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSpec(_Strict):
    source: str = Field(description="synthetic-finsent | file | hf")
    path: str | None = None  # local file for source=file, dataset name for source=hf
    split: str = "train"
    columns: dict[str, str] = Field(default_factory=dict)  # our name -> column in the data
    n_train: int = Field(2000, ge=10)
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict)


class SchedulerSpec(_Strict):
    type: Literal["asha", "fifo"] = "asha"
    grace_period: int = Field(1, ge=1)
    reduction_factor: float = Field(3.0, gt=1.0)
    max_t: int | None = Field(None, ge=1)  # epochs; default: the trial's epochs


class SearchSpec(_Strict):
    space: str
    sampler: Sampler = "tpe"
    num_samples: int | None = Field(None, ge=1)  # None: 16, or the grid's size for grid
    metric: str | None = None  # default: the method's metric
    mode: Literal["min", "max"] | None = None
    scheduler: SchedulerSpec = SchedulerSpec()
    max_concurrent: int | Literal["auto"] = "auto"
    seed: int = 0

    @field_validator("max_concurrent")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be >= 1 or 'auto'")
        return v


class ResourceSpec(_Strict):
    workers_per_trial: int = Field(1, ge=1)
    use_gpu: bool | Literal["auto"] = "auto"
    cpus_per_worker: float = Field(1.0, gt=0)
    gpus_per_worker: float = Field(1.0, gt=0)
    # Restarts of a trial's worker group after a failure (a worker process or node died,
    # or the loss went non-finite), each from the trial's last end-of-epoch checkpoint.
    trial_retries: int = Field(1, ge=0)
    # auto: a one-worker trial trains in its Tune trial actor, no Ray Train worker group
    # (~15 s less per trial on a 2-core CPU; see README, Benchmarks); always: a worker
    # group for every trial, so a worker whose process or node dies is restarted too.
    worker_group: Literal["auto", "always"] = "auto"


class TrackingSpec(_Strict):
    uri: str | None = None  # None: embedded SQLite store under the state folder
    experiment: str | None = None  # default: the job's name


class PromoteSpec(_Strict):
    enabled: bool = True
    model_name: str | None = None  # default: the job's name
    alias: str = "champion"


class StageSpec(_Strict):
    """One stage of a multi-stage job: its own space, sampler, scheduler and fixed values.

    Stage k+1 starts from stage k's winning config and best model (config field
    ``init_from``, a local copy of the model logged in MLflow).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
    search: SearchSpec
    fixed: dict[str, Any] = Field(default_factory=dict)


class JobSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    method: str
    description: str | None = None
    data: DataSpec
    fixed: dict[str, Any] = Field(default_factory=dict)
    search: SearchSpec | None = None  # one search ...
    stages: list[StageSpec] | None = None  # ... or several, run in order
    resources: ResourceSpec = ResourceSpec()
    tracking: TrackingSpec = TrackingSpec()
    promote: PromoteSpec = PromoteSpec()
    storage_path: str | None = None  # Tune/Train state; default: the state folder

    # Where the spec came from: used to resolve relative paths and to point at lines.
    source_file: str = Field("", exclude=True)
    lines: dict[str, int] = Field(default_factory=dict, exclude=True)
    key_prefix: str = Field("", exclude=True)  # "stages.1." in a stage's view of the job
    job_name: str = Field("", exclude=True)  # the multi-stage job's name, in a stage's view

    @model_validator(mode="after")
    def _one_search(self) -> JobSpec:
        if (self.search is None) == (not self.stages):
            key = "search" if self.stages is None else "stages"
            raise KeyedValueError(key, "give either 'search' or a non-empty list of 'stages'")
        seen: set[str] = set()
        for i, stage in enumerate(self.stages or []):
            if stage.name in seen:
                raise KeyedValueError(f"stages.{i}.name", f"stage name '{stage.name}' repeats")
            seen.add(stage.name)
        return self

    @property
    def the_search(self) -> SearchSpec:
        """The search of a single-search job (or of one stage's view)."""
        assert self.search is not None, "multi-stage job: use stage_views()"
        return self.search

    def stage_views(self) -> list[JobSpec]:
        """Each stage as a single-search job; a plain job is its own only view."""
        if not self.stages:
            return [self]
        return [
            self.model_copy(
                update={
                    "name": f"{self.name}-{stage.name}",
                    "search": stage.search,
                    "fixed": {**self.fixed, **stage.fixed},
                    "stages": None,
                    "key_prefix": f"stages.{i}.",
                    "job_name": self.name,
                    # every stage's search runs in the job's experiment, beside its job run
                    "tracking": self.tracking.model_copy(
                        update={"experiment": self.tracking.experiment or self.name}
                    ),
                }
            )
            for i, stage in enumerate(self.stages)
        ]

    def line_of(self, key: str) -> int | None:
        return _line_for(self.lines, key)

    def problem(self, key: str, message: str) -> SpecProblem:
        if self.key_prefix and key.split(".")[0] in ("search", "fixed"):
            key = self.key_prefix + key
        return SpecProblem(self.source_file, self.line_of(key), key, message)

    def resolve_path(self, rel: str) -> Path:
        """A path in the spec: absolute, else next to the job file, else its parent, else cwd."""
        p = Path(os.path.expanduser(rel))
        if p.is_absolute():
            return p
        here = Path(self.source_file).resolve().parent if self.source_file else Path.cwd()
        for base in (here, here.parent, Path.cwd()):
            if (base / p).exists():
                return (base / p).resolve()
        return (here / p).resolve()


def _line_map(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """Dotted key path -> 1-based line, from a composed YAML node tree ("" = the top)."""
    out: dict[str, int] = {} if prefix else {"": node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = f"{prefix}.{k.value}" if prefix else str(k.value)
            out[key] = k.start_mark.line + 1
            out.update(_line_map(v, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            key = f"{prefix}.{i}"
            out[key] = v.start_mark.line + 1
            out.update(_line_map(v, key))
    return out


def _line_for(lines: dict[str, int], key: str) -> int | None:
    parts = key.split(".")
    while parts:
        line = lines.get(".".join(parts))
        if line is not None:
            return line
        parts.pop()
    return lines.get("")  # a missing top-level key: the document's first line


def load_yaml(path: str | Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Safe-load a YAML mapping and its key -> line map; syntax errors, duplicate keys
    (which PyYAML would silently resolve to the last) and non-mappings become SpecError."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError([SpecProblem(file, None, "", f"cannot read file: {e.strerror}")]) from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError([_syntax_problem(file, text, e)]) from e
    if data is None or node is None:
        raise SpecError([SpecProblem(file, 1, "", "file is empty")])
    if not isinstance(data, dict):
        line = node.start_mark.line + 1
        raise SpecError([SpecProblem(file, line, "", "top level must be a mapping of keys")])
    dups = _duplicate_keys(node)
    if dups:
        raise SpecError([SpecProblem(file, *d) for d in dups])
    return data, _line_map(node)


def _duplicate_keys(node: yaml.Node, prefix: str = "") -> list[tuple[int, str, str]]:
    """(line, key, message) for every key given twice in one mapping."""
    out: list[tuple[int, str, str]] = []
    children: list[tuple[str, yaml.Node]] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            key = f"{prefix}.{k.value}" if prefix else str(k.value)
            line = k.start_mark.line + 1
            if key in first:
                out.append((line, key, f"duplicate key (first given on line {first[key]})"))
            first.setdefault(key, line)
            children.append((key, v))
    elif isinstance(node, yaml.SequenceNode):
        children = [(f"{prefix}.{i}", v) for i, v in enumerate(node.value)]
    for key, child in children:
        out += _duplicate_keys(child, key)
    return out


def _syntax_problem(file: str, text: str, err: yaml.YAMLError) -> SpecProblem:
    """The error's line and the key path open there. An unclosed bracket or quote is
    reported where it opened (PyYAML notices it only lines later)."""
    problem = getattr(err, "problem", None) or str(err)
    mark = getattr(err, "problem_mark", None)
    context, cmark = getattr(err, "context", None), getattr(err, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    msg = f"YAML syntax error: {problem}"
    if context and cmark is not None and ("flow" in context or "quoted" in context):
        opened = context.removeprefix("while parsing ").removeprefix("while scanning ")
        msg = f"YAML syntax error: {opened} opened here is not closed (line {line}: {problem})"
        line = cmark.line + 1
    return SpecProblem(file, line, _open_key_path(text), msg)


def _open_key_path(text: str) -> str:
    """The dotted key path the parser was inside when it failed ("" at the top)."""
    frames: list[dict[str, Any]] = []  # {"map": bool, "key": str | None, "value": bool, "i": int}

    def node_begins(event: yaml.Event) -> None:
        if not frames:
            return
        top = frames[-1]
        if not top["map"]:
            top["i"] += 1
        elif not top["value"]:  # a key
            top["key"], top["value"] = str(getattr(event, "value", "?")), True
            return
        elif not isinstance(event, yaml.CollectionStartEvent):
            top["value"] = False  # a scalar value: the mapping wants its next key

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.NodeEvent):
                node_begins(event)
            if isinstance(event, yaml.CollectionStartEvent):
                is_map = isinstance(event, yaml.MappingStartEvent)
                frames.append({"map": is_map, "key": None, "value": False, "i": -1})
            elif isinstance(event, yaml.CollectionEndEvent):
                frames.pop()
                if frames and frames[-1]["map"]:
                    frames[-1]["value"] = False
    except yaml.YAMLError:
        pass
    parts = []
    for n, f in enumerate(frames):
        last = n == len(frames) - 1
        if f["map"] and f["key"] is not None and (f["value"] or not last):
            parts.append(f["key"])
        elif not f["map"] and f["i"] >= 0:
            parts.append(str(f["i"]))
    return ".".join(parts)


# Where pydantic tries each member of a union it adds the member to the error's location
# ("use_gpu.bool", "use_gpu.literal['auto']"): not keys of the file.
_UNION_MEMBER = re.compile(r"^(bool|int|float|str|none|[a-z-]+\[.*\])$")


def problems_from_validation(
    err: ValidationError, file: str, lines: dict[str, int], prefix: str = ""
) -> list[SpecProblem]:
    """One problem per key: a union's failed members are merged into one message."""
    merged: dict[str, list[str]] = {}
    for e in err.errors():
        loc = [prefix, *(str(p) for p in e["loc"])] if prefix else [str(p) for p in e["loc"]]
        while loc and _UNION_MEMBER.match(loc[-1]) and ".".join(loc) not in lines:
            loc.pop()
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, KeyedValueError):
            loc, msg = [prefix, cause.key], str(cause)
        else:
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        key = ".".join(p for p in loc if p != "")
        if msg not in merged.setdefault(key, []):
            merged[key].append(msg)
    return [
        SpecProblem(file, _line_for(lines, key), key, ", or ".join(msgs))
        for key, msgs in merged.items()
    ]


def load_job(path: str | Path, overrides: dict[str, Any] | None = None) -> JobSpec:
    """Load and structurally validate a job spec; `overrides` are dotted keys (--set)."""
    data, lines = load_yaml(path)
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    try:
        return JobSpec.model_validate({**data, "source_file": str(path), "lines": lines})
    except ValidationError as e:
        raise SpecError(problems_from_validation(e, str(path), lines)) from e


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, leaf = dotted.split(".")
    for p in parents:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise SpecError([SpecProblem("--set", None, dotted, f"'{p}' is not a mapping")])
        node = nxt
    node[leaf] = value


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` from the command line; the value is read as YAML (numbers, lists...)."""
    if "=" not in text:
        raise SpecError([SpecProblem("--set", None, text, "expected key=value")])
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise SpecError([SpecProblem("--set", None, key, f"bad value: {e}")]) from e
    return key.strip(), value
