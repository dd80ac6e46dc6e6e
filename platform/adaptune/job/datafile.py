"""A data file a job names, opened and checked before anything starts.

    rows, whole = inspect_file(Path("news.csv"), {"text": "text", "score": "score"}, {}, 2000)
    # -> its rows, and False when time ran out first; DataFileError with one clear line else

Checked: a regular file with a supported suffix, not empty, UTF-8 (CSV / JSON), a header
or records with the columns the method reads (``columns`` maps our names to the file's),
and every row's values fit each column's kind (KINDS), streamed: a huge file is checked
for CHECK_SECONDS, then left to the search, and the caller says so. Reads with the
standard library (Parquet: pyarrow).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "CHECK_SECONDS",
    "KINDS",
    "SUFFIXES",
    "DataFileError",
    "inspect_file",
    "saved_dataset_columns",
    "saved_dataset_problem",
]

SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet")
SAMPLE_ROWS = 200  # the first rows: the header of JSON Lines, the text-is-numbers check
CHECK_SECONDS = 2.0  # every row is checked, up to this long on a huge file
MAX_JSON_BYTES = 64 << 20  # a .json array is parsed whole: bigger ones must be JSON Lines
KINDS = {
    "text": "text",
    "score": "a number in [-1, 1]",
    "class": "a whole number >= 0",
    "labels": "label names (a list, or one string 'a|b')",
    "name": "a non-empty name",
}


class DataFileError(ValueError):
    """A data file that cannot be used; the message is one line naming the file.
    `column`: our name of the column at fault, when one is."""

    def __init__(self, message: str, column: str | None = None):
        super().__init__(message)
        self.column = column


def inspect_file(
    path: Path, kinds: dict[str, str], columns: dict[str, str], need_rows: int
) -> tuple[int, bool]:
    """Check `path` holds the columns `kinds` names (our name -> kind; `columns` maps our
    names to the file's) with sane values in every row; returns (rows, whether every row
    was read): past CHECK_SECONDS the check stops, with the rows counted then, at least
    `need_rows` (the search reads the rest)."""
    _regular(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        header, records = _parquet(path)
    elif suffix in (".csv", ".tsv"):
        header, records = _csv(path, "\t" if suffix == ".tsv" else ",")
    else:
        header, records = _json(path)
    sample = list(itertools.islice(records, SAMPLE_ROWS))
    header = header or _header(sample)
    wanted = {}
    for ours, kind in kinds.items():
        column = columns.get(ours, ours)
        if column not in header:
            what = f"column '{column}' (for '{ours}')" if column != ours else f"column '{ours}'"
            raise DataFileError(
                f"{path.name}: {what} is not in the file; its columns: {', '.join(header)}",
                ours,
            )
        wanted[ours] = (column, kind)
        try:
            _check_column(path.name, column, kind, [(w, row.get(column)) for w, row in sample])
        except DataFileError as e:
            raise DataFileError(str(e), ours) from None
    rows, deadline = len(sample), time.monotonic() + CHECK_SECONDS
    for where, row in records:
        for ours, (column, kind) in wanted.items():
            problem = _value_problem(kind, row.get(column))
            if problem is not None:
                raise DataFileError(f"{path.name}: {where}: column '{column}': {problem}", ours)
        rows += 1
        if rows % 1000 == 0 and time.monotonic() > deadline:
            return max(rows, need_rows), False
    if rows == 0:
        raise DataFileError(f"{path.name}: no rows")
    return rows, True


def _regular(path: Path) -> None:
    try:
        st = os.stat(path)
    except OSError as e:
        raise DataFileError(f"file not found: {path}" if e.errno == 2 else str(e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise DataFileError(f"{path} is a directory, not a data file")
    if not stat.S_ISREG(st.st_mode):
        raise DataFileError(f"{path} is not a regular file")
    if path.suffix.lower() not in SUFFIXES:
        raise DataFileError(
            f"{path.name}: unsupported file type '{path.suffix}' (use {', '.join(SUFFIXES)})"
        )
    if st.st_size == 0:
        raise DataFileError(f"{path.name}: the file is empty")


def _text_lines(path: Path) -> Iterator[str]:
    """The file's lines as UTF-8 text; binary or UTF-16 content is refused up front."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
        what = "UTF-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "binary"
        raise DataFileError(f"{path.name}: not UTF-8 text (looks {what})")
    with open(path, encoding="utf-8-sig", newline="") as f:
        try:
            yield from f
        except UnicodeDecodeError as e:
            raise DataFileError(f"{path.name}: not UTF-8 text ({e.reason})") from None


Records = Iterator[tuple[str, dict[str, Any]]]  # (where, row), every row in order


def _csv(path: Path, sep: str) -> tuple[list[str], Records]:
    reader = csv.reader(_text_lines(path), delimiter=sep)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise DataFileError(f"{path.name}: line {reader.line_num}: {e}") from None
    if not header or not any(h.strip() for h in header):
        raise DataFileError(f"{path.name}: no header line")
    if len(header) == 1 and any(s in header[0] for s in (";", "\t", ",", "|")):
        other = next(s for s in (";", "\t", ",", "|") if s in header[0])
        raise DataFileError(
            f"{path.name}: one column only ('{header[0][:40]}'): separated by "
            f"{other!r}, not {sep!r}?"
        )

    def records() -> Records:
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataFileError(
                        f"{path.name}: line {reader.line_num} has {len(row)} fields, "
                        f"the header {len(header)}"
                    )
                yield f"line {reader.line_num}", dict(zip(header, row, strict=True))
        except csv.Error as e:
            raise DataFileError(f"{path.name}: line {reader.line_num}: {e}") from None

    return header, records()


def _json(path: Path) -> tuple[list[str], Records]:
    """JSON Lines (one object a line), or a .json array of objects; the header is the
    keys of the first rows."""
    lines = _text_lines(path)
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("[") and path.suffix.lower() == ".json":
            return [], _json_array(path, line + "".join(lines))

        def records(first: int = n, text: str = line) -> Records:
            yield f"line {first}", _record(path, text, first)
            for k, more in enumerate(lines, start=first + 1):
                if more.strip():
                    yield f"line {k}", _record(path, more, k)

        return [], records()
    return [], iter(())


def _record(path: Path, line: str, n: int) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataFileError(f"{path.name}: line {n} is not JSON ({e.msg})") from None
    if not isinstance(value, dict):
        raise DataFileError(f"{path.name}: line {n} is not a JSON object")
    return value


def _json_array(path: Path, text: str) -> Records:
    if len(text) > MAX_JSON_BYTES:
        raise DataFileError(f"{path.name}: a JSON array over 64 MB; use JSON Lines (.jsonl)")
    try:
        records = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataFileError(f"{path.name}: not JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataFileError(f"{path.name}: expected a list of JSON objects")
    return ((f"record {i + 1}", r) for i, r in enumerate(records))


def _header(sample: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return list(dict.fromkeys(k for _, row in sample for k in row))


def _parquet(path: Path) -> tuple[list[str], Records]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        batches = pf.iter_batches(batch_size=SAMPLE_ROWS)
        first = next(batches, None)
    except (pa.ArrowException, OSError) as e:
        raise DataFileError(f"{path.name}: not a readable Parquet file ({e})") from None

    def records() -> Records:
        i = 0
        try:
            for batch in itertools.chain([first] if first is not None else [], batches):
                for row in batch.to_pylist():
                    i += 1
                    yield f"row {i}", row
        except (pa.ArrowException, OSError) as e:
            raise DataFileError(f"{path.name}: row {i + 1} unreadable ({e})") from None

    return list(pf.schema_arrow.names), records()


def _check_column(file: str, column: str, kind: str, values: list[tuple[str, Any]]) -> None:
    numbers = 0
    for where, value in values:
        problem = _value_problem(kind, value)
        if problem is not None:
            raise DataFileError(f"{file}: {where}: column '{column}': {problem}")
        numbers += kind == "text" and _number(value) is not None
    if kind == "text" and values and numbers == len(values):
        raise DataFileError(f"{file}: column '{column}' holds numbers, not text")


def _value_problem(kind: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip() and kind != "labels"):
        return "empty"
    if kind == "score":
        x = _number(value)
        if x is None or not math.isfinite(x):
            return f"{value!r} is not a finite number"
        return None if -1.0 <= x <= 1.0 else f"{x:g} is outside [-1, 1]"
    if kind == "class":
        x = _number(value)
        if x is None or not math.isfinite(x) or x != int(x) or x < 0:
            return f"{value!r} is not a class number (a whole number >= 0)"
    if kind == "labels" and not isinstance(value, str | list):
        return f"{value!r} is not {KINDS['labels']}"
    if kind == "text" and not isinstance(value, str | int | float):
        return f"{type(value).__name__} is not text"
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def saved_dataset_columns(path: Path, split: str) -> list[str]:
    """The columns of a ``datasets`` save_to_disk folder (of a DatasetDict: its `split`'s),
    read from its dataset_info.json; DataFileError when it is not one or lacks the split."""
    if (path / "dataset_dict.json").is_file():
        try:
            splits = list(json.loads((path / "dataset_dict.json").read_text())["splits"])
        except (OSError, ValueError, KeyError, TypeError):
            raise DataFileError(f"{path}: unreadable dataset_dict.json") from None
        if split not in splits:
            raise DataFileError(f"{path}: no split '{split}'; its splits: {', '.join(splits)}")
        path = path / split
    try:
        info = json.loads((path / "dataset_info.json").read_text(encoding="utf-8"))
        return list(info["features"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DataFileError(
            f"{path}: not a datasets save_to_disk folder (no readable dataset_info.json)"
        ) from None


def saved_dataset_problem(data: Any, kinds: dict[str, str]) -> tuple[str, str] | None:
    """(the job key, the problem) of a dataset on local disk (source hf, a DataSpec whose
    path is absolute): missing, or a save_to_disk folder whose splits lack a column the
    method reads (`kinds`: our names; data.columns maps them); None when fine."""
    path = Path(str(data.path))
    if not path.exists():
        return "data.path", f"no dataset at {path}"
    if not path.is_dir():
        return None  # an .arrow / .parquet file: read by the search
    for split in dict.fromkeys(s for s in (data.split, data.test_split) if s):
        try:
            have = saved_dataset_columns(path, split)
        except DataFileError as e:
            return ("data.test_split" if split != data.split else "data.path"), str(e)
        for ours in kinds:
            column = data.columns.get(ours, ours)
            if column not in have:
                at = f"data.columns.{ours}" if ours in data.columns else "data.path"
                return at, f"{path.name} ({split}): no column '{column}'; its columns: " + (
                    ", ".join(have)
                )
    return None
