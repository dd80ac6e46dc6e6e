"""The package's shape, read from its own imports (ast): code is grouped by where it runs,
and each group imports only what may run there.

- job/      what the user writes: no torch, Ray or MLflow (validate stays fast)
- train/    inside Ray actors: no MLflow, nothing of the driver
- methods/  a method's own code: nothing of the driver (driver/, cli, cluster, report),
            no MLflow and no tracking/ (a method hands data back; the platform writes it)
- tracking/ MLflow, knowing no method, no search driver and nothing of train/
- report/   built from the MLflow store alone: no driver, train/ (but its report keys) or methods
- driver/   the driver: names no method of the registry
- no module is longer than 400 lines; tag literals live in tracking/names.py only
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from tests.conftest import ROOT

PACKAGE = ROOT / "platform" / "adaptune"
DRIVER = (
    "adaptune.driver",
    "adaptune.cli",
    "adaptune.commands",
    "adaptune.cluster",
    "adaptune.report",
)


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside functions."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def offending(paths: list[Path], banned: tuple[str, ...]) -> list[str]:
    return [
        f"{p.relative_to(PACKAGE)} imports {name}"
        for p in paths
        for name in sorted(imports(p))
        if any(name == b or name.startswith(b + ".") for b in banned)
    ]


def test_job_imports_no_torch_ray_or_mlflow() -> None:
    assert offending(modules("job"), ("torch", "ray", "mlflow", "transformers")) == []


def test_train_imports_no_mlflow_and_nothing_of_the_driver() -> None:
    banned = ("mlflow", "adaptune.tracking", *DRIVER)
    assert offending(modules("train"), banned) == []


def test_methods_import_nothing_of_the_driver_nor_mlflow() -> None:
    banned = (*DRIVER, "adaptune.train", "adaptune.plan", "mlflow", "adaptune.tracking")
    assert offending(modules("methods"), banned) == []


def test_tracking_imports_no_method_driver_or_train() -> None:
    banned = ("adaptune.methods", "adaptune.driver", "adaptune.train", "ray")
    assert offending(modules("tracking"), banned) == []


def test_report_imports_no_driver_train_or_methods() -> None:
    banned = ("adaptune.driver", "adaptune.train", "adaptune.methods")
    found = offending(modules("report"), banned)
    # but the names a trial reports (train/report.py, light): the metrics it reads back
    assert [f for f in found if not f.endswith(("adaptune.train.report", "adaptune.train"))] == []


def test_plan_does_not_import_the_worker() -> None:
    assert offending([PACKAGE / "plan.py"], ("adaptune.train", "ray", "mlflow")) == []


@pytest.mark.parametrize("folder", ["driver", "tracking", "report", "train", "job", "data"])
def test_platform_code_names_no_method(folder: str) -> None:
    from adaptune.methods import BUILTIN

    named = re.compile(r"adaptune\.methods\.(" + "|".join(BUILTIN) + r")\b")
    found = [str(p.relative_to(PACKAGE)) for p in modules(folder) if named.search(p.read_text())]
    assert found == []


def test_no_module_exceeds_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}


def test_tag_literals_live_in_names_only() -> None:
    # not adaptune.json (a model folder's file) nor adaptune.io/… (a Ray node label's prefix)
    tag = re.compile(r"""["']adaptune\.(?!json|io/|methods")""")
    found = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "names.py" and tag.search(p.read_text())
    ]
    assert found == []
