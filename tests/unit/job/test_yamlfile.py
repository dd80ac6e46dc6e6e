"""Hostile YAML: every file is refused with one line naming file, line and key, in well
under a second, without reading forever, expanding aliases or recursing without end."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from tests.conftest import write

from adaptune.job.yamlfile import MAX_FILE_BYTES, SpecError, load_yaml


def _refused(path: Path | str) -> str:
    start = time.monotonic()
    with pytest.raises(SpecError) as e:
        load_yaml(path)
    assert time.monotonic() - start < 5
    (problem,) = e.value.problems
    return str(problem)


def test_a_fifo_is_refused_without_reading_it(tmp_path: Path) -> None:
    fifo = tmp_path / "job.yaml"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    assert _refused(fifo).endswith("job.yaml: <top>: cannot read: not a regular file")


def test_a_device_and_a_folder_are_refused(tmp_path: Path) -> None:
    assert "not a regular file" in _refused("/dev/zero")
    assert "cannot read: a directory" in _refused(tmp_path)


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    big = write(tmp_path / "job.yaml", "name: x\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    assert f"over {MAX_FILE_BYTES}" in _refused(big)


def test_an_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    levels = "".join(
        f"{b}: &{b} [" + ", ".join([f"*{a}"] * 9) + "]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    bomb = write(
        tmp_path / "job.yaml", "name: x\na: &a [lol, lol, lol, lol, lol, lol, lol]\n" + levels
    )
    assert "expands to more than" in _refused(bomb)


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", "base: &b {epochs: 2, lr: 0.1}\nother: *b\n")
    data, lines = load_yaml(path)
    assert data["other"] == {"epochs": 2, "lr": 0.1} and lines["other"] == 2


def test_deep_nesting_is_refused_without_recursion_error(tmp_path: Path) -> None:
    deep = write(tmp_path / "job.yaml", "fixed: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested deeper than" in _refused(deep)
    deep_maps = write(tmp_path / "maps.yaml", "a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n")
    assert "nested deeper than" in _refused(deep_maps)


@pytest.mark.parametrize(
    ("text", "head"),
    [
        ('name: !!python/object/apply:os.system ["true"]\n', "job.yaml:1: name: YAML value"),
        ("fixed:\n  epochs: 2\n  lr: !!python/name:os.system\n", "job.yaml:3: fixed.lr: YAML"),
        ("stages:\n  - name: a\n    fixed: !custom {x: 1}\n", "job.yaml:3: stages.0.fixed: YAML"),
    ],
)
def test_a_bad_tag_is_blamed_on_its_key(tmp_path: Path, text: str, head: str) -> None:
    assert head in _refused(write(tmp_path / "job.yaml", text))


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("name: x\n".encode("utf-16"), "job.yaml:1: <top>: not UTF-8 text (looks UTF-16)"),
        ("name: caf\xe9\n".encode("latin-1"), "job.yaml:1: <top>: not UTF-8 text (byte 0xe9"),
        (b"name: x\nmethod: \x00\x01\n", "not UTF-8 text (looks binary)"),
    ],
)
def test_text_that_is_not_utf8_says_so(tmp_path: Path, raw: bytes, fragment: str) -> None:
    path = tmp_path / "job.yaml"
    path.write_bytes(raw)
    assert fragment in _refused(path)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_bytes("\ufeffname: café\n".encode())
    assert load_yaml(path)[0] == {"name": "café"}


def test_exponent_floats_are_numbers_as_yaml_1_2_and_json_write_them(tmp_path: Path) -> None:
    """PyYAML reads `1e-5` as a string (YAML 1.1); the spec's numbers are strict, so a
    space file, a JSON-written one or a --set override would be refused without this."""
    from adaptune.job.overrides import parse_override
    from adaptune.job.spec import JobSpec
    from adaptune.plan import make_plans

    space = write(tmp_path / "space.yaml", '{"lr": {"type": "float", "low": 1e-05, "high": 1e-3}}')
    data, _ = load_yaml(space)
    assert data["lr"]["low"] == 1e-5 and data["lr"]["high"] == 1e-3
    assert parse_override("fixed.lr=1e-5") == ("fixed.lr", 1e-5)
    assert parse_override("fixed.note=1e") == ("fixed.note", "1e")  # not a number: a string
    (plan,) = make_plans(JobSpec.from_yaml("jobs/quickstart.yaml", {"search.space": str(space)}))
    assert plan.space["lr"].low == 1e-5
