"""YAML files with a line for every key, and problems that name file, line and key.

    data, lines = load_yaml("jobs/quickstart.yaml")   # raises SpecError
    lines["search.sampler"]                           # -> 1-based line

Every error carries the file, the 1-based line and the dotted key path, so a user
can jump straight to the culprit (``jobs/x.yaml:12: search.sampler: ...``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

__all__ = [
    "KeyedValueError",
    "SpecError",
    "SpecProblem",
    "line_for",
    "load_yaml",
    "problems_from_validation",
    "read_text",
]


@dataclass(frozen=True)
class SpecProblem:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        # a job made in code has no file: its dotted key alone says where
        return f"{where + ': ' if where else ''}{self.key or '<top>'}: {self.message}"


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


def line_for(lines: dict[str, int], key: str) -> int | None:
    parts = key.split(".")
    while parts:
        line = lines.get(".".join(parts))
        if line is not None:
            return line
        parts.pop()
    return lines.get("")  # a missing top-level key: the document's first line


# Job files and search spaces are a few KB: anything bigger, deeper or more repetitive
# is a mistake or an attack (a YAML "billion laughs" alias bomb expands exponentially).
MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_VALUES = 10_000  # scalars and collections, aliases counted at every use


class SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading floats as YAML 1.2 (and JSON) write them: `1e-5` is a
    float, not the string PyYAML's YAML 1.1 rules make it (the spec's numbers are strict)."""


SpecLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:float"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(path: str | Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Safe-load a YAML mapping and its key -> line map; syntax errors, duplicate keys
    (which PyYAML would silently resolve to the last) and non-mappings become SpecError."""
    file = str(path)
    text = read_text(path)
    shape = _shape_problem(text)
    if shape is not None:
        line, message, index = shape
        raise SpecError([SpecProblem(file, line, _open_key_path(text[:index]), message)])
    loader = SpecLoader(text)
    node: yaml.Node | None = None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.constructor.ConstructorError as e:  # e.g. a !!python tag: name its key
        raise SpecError([_tag_problem(file, node, e)]) from e
    except yaml.YAMLError as e:
        raise SpecError([_syntax_problem(file, text, e)]) from e
    finally:
        loader.dispose()
    if data is None or node is None:
        raise SpecError([SpecProblem(file, 1, "", "file is empty")])
    if not isinstance(data, dict):
        line = node.start_mark.line + 1
        raise SpecError([SpecProblem(file, line, "", "top level must be a mapping of keys")])
    dups = _duplicate_keys(node)
    if dups:
        raise SpecError([SpecProblem(file, *d) for d in dups])
    return data, _line_map(node)


def read_text(path: str | Path, limit: int = MAX_FILE_BYTES) -> str:
    """A small regular file's UTF-8 text; anything else is a SpecError that says why (a
    FIFO or /dev/zero would otherwise be read forever)."""
    file = str(path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise SpecError([SpecProblem(file, None, "", f"cannot read: {what}")])
        if st.st_size > limit:
            raise SpecError(
                [SpecProblem(file, None, "", f"file is {st.st_size} bytes, over {limit}")]
            )
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as e:
        raise SpecError([SpecProblem(file, None, "", f"cannot read file: {e.strerror}")]) from e
    if len(raw) > limit:  # grew while read
        raise SpecError([SpecProblem(file, None, "", f"file is over {limit} bytes")])
    return decode_utf8(raw, file)


def decode_utf8(raw: bytes, file: str) -> str:
    """UTF-8 text (a UTF-8 byte-order mark is dropped); UTF-16 or binary: a SpecError."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:4096]:
        what = "UTF-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "binary"
        raise SpecError([SpecProblem(file, 1, "", f"not UTF-8 text (looks {what})")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        byte = raw[e.start : e.start + 1].hex()
        raise SpecError(
            [SpecProblem(file, line, "", f"not UTF-8 text (byte 0x{byte} at offset {e.start})")]
        ) from None


def _shape_problem(text: str) -> tuple[int | None, str, int] | None:
    """(line, message, offset) when the document nests deeper than MAX_DEPTH or expands
    (aliases counted at each use) to more than MAX_VALUES values. One pass over the
    parser's events: linear time, whatever the aliases would expand to."""
    sizes: dict[str, int] = {}  # anchor -> expanded size
    stack: list[list[Any]] = [[None, 0]]  # [anchor, size] of each open collection
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            mark = event.start_mark
            line, index = (mark.line + 1, mark.index) if mark is not None else (None, 0)
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append([event.anchor, 1])
                if len(stack) - 1 > MAX_DEPTH:
                    return line, f"nested deeper than {MAX_DEPTH} levels", index
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, size = stack.pop()
            elif isinstance(event, yaml.AliasEvent):
                anchor, size = None, sizes.get(str(event.anchor), 1)
            elif isinstance(event, yaml.ScalarEvent):
                anchor, size = event.anchor, 1
            else:
                continue
            if anchor is not None:
                sizes[str(anchor)] = size
            stack[-1][1] += size
            if stack[0][1] + sum(s for _, s in stack[1:]) > MAX_VALUES:
                message = f"expands to more than {MAX_VALUES} values (YAML aliases?)"
                return line, message, index
    except yaml.YAMLError:
        return None  # composing reports it, with its line and key
    return None


def _tag_problem(file: str, root: yaml.Node | None, err: yaml.YAMLError) -> SpecProblem:
    """A value PyYAML will not build (a !!python tag...), named by the key that holds it."""
    mark = getattr(err, "problem_mark", None)
    key = ""
    if root is not None and mark is not None:
        key = next((k for k, n in _walk(root) if n.start_mark.index == mark.index), "")
    line = mark.line + 1 if mark is not None else None
    problem = getattr(err, "problem", None) or str(err)
    return SpecProblem(file, line, key, f"YAML value not allowed: {problem}")


def _walk(node: yaml.Node, prefix: str = "") -> Iterator[tuple[str, yaml.Node]]:
    """(dotted key, node) of every node below `node` (bounded: see _shape_problem)."""
    yield prefix, node
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield from _walk(v, f"{prefix}.{k.value}" if prefix else str(k.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            yield from _walk(v, f"{prefix}.{i}")


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
            if e["type"] in ("int_type", "float_type"):  # say what was given: true, "4", 2.5
                msg = f"{msg} (got {e['input']!r})"
        key = ".".join(p for p in loc if p != "")
        if msg not in merged.setdefault(key, []):
            merged[key].append(msg)
    return [
        SpecProblem(file, line_for(lines, key), key, ", or ".join(msgs))
        for key, msgs in merged.items()
    ]
