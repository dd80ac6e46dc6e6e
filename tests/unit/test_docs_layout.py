"""docs/architecture.md checks itself: every module of the package appears in its layout
(in its folder's section), and every Method field in its contract section. A module or
field added without a line there fails here, naming it."""

from __future__ import annotations

import dataclasses
import re

from tests.conftest import ROOT

from adaptune.method import Method

PACKAGE = ROOT / "platform" / "adaptune"
DOC = (ROOT / "docs" / "architecture.md").read_text()
METHOD_FOLDERS = ("dao", "dama", "mad", "dallmi")  # listed together: "dao/ dama/ mad/ dallmi/"


def _layout() -> dict[str, str]:
    """Folder ("" for the top level) -> the layout's text of that folder's section."""
    block = DOC.split("## The package, by where code runs", 1)[1].split("```")[1]
    sections: dict[str, str] = {"": ""}
    current = ""
    for line in block.splitlines():
        top = re.match(r"^  (\S+)", line)  # a top-level entry: a module or a folder
        if top:
            name = top.group(1)
            current = name.rstrip("/") if name.endswith("/") else ""
            sections.setdefault(current, "")
            if not current:
                sections[""] += line + "\n"
                continue
        sections[current] = sections.get(current, "") + line + "\n"
    return sections


def _named(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w/.]){re.escape(name)}(?!\w)", text) is not None


def test_every_module_is_in_the_layout() -> None:
    sections = _layout()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if parts[0] == "methods" and len(parts) > 2 and parts[1] in METHOD_FOLDERS:
            continue  # a method's own folder: "everything of one method"
        if len(parts) == 1:
            ok = path.name == "__init__.py" or _named(sections[""], path.name)
        elif path.name == "__init__.py":
            ok = parts[0] in sections
        else:
            ok = _named(sections.get(parts[0], ""), path.name)
        if not ok:
            missing.append("/".join(parts))
    assert missing == []
    assert all(_named(sections["methods"], f"{m}/") for m in METHOD_FOLDERS)


def test_every_method_field_is_in_the_contract_section() -> None:
    section = DOC.split("## The Method contract", 1)[1].split("\n## ", 1)[0]
    missing = [f.name for f in dataclasses.fields(Method) if f"`{f.name}" not in section]
    assert missing == []
