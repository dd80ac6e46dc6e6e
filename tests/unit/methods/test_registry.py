"""The method registry opened up: entry points of installed packages (a real distribution
on sys.path, as pip would leave it), register_method, and the refusals: a name clash, a
broken entry point (named in the error, leaving the other methods usable)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import write

from adaptune import methods as registry
from adaptune.commands.methods import cmd_methods
from adaptune.contract import MethodContractError, check_method
from adaptune.methods import (
    METHODS,
    MethodRegistryError,
    get_method,
    method_origin,
    register_method,
    registered_here,
)

# A module that builds real Method objects with the dataclass and hooks of a tiny method
# (tests/unit/methods/toy_method.py), under the names the entry points below expect.
GOOD = """\
import dataclasses
from tests.unit.methods.toy_method import TOY
METHOD = dataclasses.replace(TOY, name="toy_ep")
CLASH = dataclasses.replace(TOY, name="dao")
MISNAMED = dataclasses.replace(TOY, name="other")
NOT_A_METHOD = {"name": "typed"}
"""
ENTRY_POINTS = """\
[adaptune.methods]
toy_ep = fake_good:METHOD
broken = fake_broken:METHOD
dao = fake_good:CLASH
misnamed = fake_good:MISNAMED
typed = fake_good:NOT_A_METHOD
"""


@pytest.fixture
def restored() -> Iterator[None]:
    """The registry's dicts as they were (they are process-wide)."""
    dicts: list[dict[str, Any]] = [registry.METHODS, registry.BROKEN, registry._ORIGINS]
    saved = [dict(d) for d in dicts]
    yield
    for d, old in zip(dicts, saved, strict=True):
        d.clear()
        d.update(old)


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restored: None) -> None:
    """A distribution 'fake-methods' on sys.path, declaring five entry points."""
    write(tmp_path / "fake_good.py", GOOD)
    write(tmp_path / "fake_broken.py", "import no_such_module_for_adaptune  # noqa\n")
    info = tmp_path / "fake_methods-0.1.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: fake-methods\nVersion: 0.1\n")
    write(info / "entry_points.txt", ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.load_entry_points()


def test_an_installed_method_joins_with_its_package(installed: None) -> None:
    assert get_method("toy_ep").name == "toy_ep"
    assert method_origin("toy_ep") == "fake-methods"
    assert method_origin("dao") == "adaptune"


def test_a_broken_entry_point_is_named_and_the_rest_still_work(installed: None) -> None:
    with pytest.raises(KeyError) as e:
        get_method("broken")
    msg = str(e.value)
    assert "entry point 'broken = fake_broken:METHOD'" in msg and "fake-methods" in msg
    assert "ModuleNotFoundError" in msg and "no_such_module_for_adaptune" in msg
    assert "not an adaptune.method.Method" in registry.BROKEN["typed"]
    assert "its Method is named 'other'" in registry.BROKEN["misnamed"]
    # an entry point never replaces a built-in
    assert "clashes with the method 'dao' from adaptune" in registry.BROKEN["dao"]
    assert get_method("dao") is METHODS["dao"] and method_origin("dao") == "adaptune"


def test_methods_command_lists_packages_and_broken_entry_points(
    installed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_methods(argparse.Namespace(json="-")) == 0
    out = capsys.readouterr()
    rows = {r["name"]: r for r in json.loads(out.out) if "error" not in r}
    assert rows["toy_ep"]["package"] == "fake-methods" and rows["dama"]["package"] == "adaptune"
    assert "warning: method 'broken' left out: entry point 'broken = " in out.err


def test_register_method_refuses_a_taken_name(restored: None) -> None:
    import dataclasses

    from tests.unit.methods.toy_method import TOY

    with pytest.raises(MethodRegistryError, match=r"'dao' is already registered \(from adaptune"):
        register_method(dataclasses.replace(TOY, name="dao"))
    mine = register_method(dataclasses.replace(TOY, name="nb_toy"))
    assert method_origin("nb_toy") == "registered in this process (tests.unit.methods.toy_method)"
    assert register_method(mine) is mine  # the same object again (a re-run cell): fine
    other = dataclasses.replace(TOY, name="nb_toy", description="v2")
    with pytest.raises(MethodRegistryError, match="pass replace=True"):
        register_method(other)
    assert register_method(other, replace=True) is get_method("nb_toy")
    assert registered_here() == {"nb_toy": other}  # what a search ships to its workers
    with pytest.raises(MethodRegistryError, match="already registered"):
        register_method(dataclasses.replace(TOY, name="mad"), replace=True)  # never a built-in


def test_check_method_passes_a_good_method_and_lists_every_fault(tmp_path: Path) -> None:
    import dataclasses

    from tests.unit.methods.toy_method import TOY, ToyConfig

    data = {"source": "toy", "n_train": 64}
    report = check_method(TOY, data=data, spaces=[{"lr": {}}])
    assert report.passed[-1] == "spaces name only config fields" and report.steps >= 2

    def no_accuracy(model: object, loader: object, cfg: ToyConfig) -> dict[str, float]:
        return {"val/mse": dict(TOY.evaluate(model, loader, cfg))["val/mse"]}  # type: ignore[arg-type]

    bad = dataclasses.replace(TOY, evaluate=no_accuracy)
    with pytest.raises(MethodContractError) as e:
        check_method(bad, config={"unused_head": True}, data=data, spaces=[{"lr": {}, "lrr": {}}])
    failures = e.value.failures
    assert len(failures) == 3, failures
    assert "never changed: unused.weight, unused.bias" in failures[0]
    assert "did not report the declared metrics val/acc" in failures[1]
    assert "names lrr, not fields of ToyConfig" in failures[2]
    assert "3 problems" in str(e.value)
