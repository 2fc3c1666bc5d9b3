"""The Python shown in the docs must import what exists: a renamed module breaks it here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
FROM_IMPORT = re.compile(r"^from (bench[\w.]*|models[\w.]*) import ([\w, ]+)$", re.MULTILINE)


def _imports() -> list[tuple[str, str, str]]:
    found = []
    for doc in DOCS:
        for block in BLOCK.findall(doc.read_text()):
            for module, names in FROM_IMPORT.findall(block):
                found += [(doc.name, module, n.strip()) for n in names.split(",")]
    return found


def test_docs_show_python():
    assert _imports(), "no `from bench... import` in any Python block of the docs"


@pytest.mark.parametrize(("doc", "module", "name"), _imports())
def test_documented_import_exists(doc, module, name):
    assert hasattr(importlib.import_module(module), name), f"{doc}: {module}.{name}"


def test_the_stage_lists_in_the_architecture_doc_are_the_plans():
    """The one written-out copy of the stage order must read as `bench.stages.plan` runs it."""
    from bench.stages import plan

    text = (ROOT / "docs" / "architecture.md").read_text()
    written = {name: re.findall(r"[A-Z][A-Z0-9_]*", body)
               for name, body in re.findall(r"^(\w+) = \[([^\]]*)\]", text, re.MULTILINE)}
    assert set(written) == {"PREPARE", "PER_POINT", "PER_FOLDING", "UNTRAINED_HW"}
    for name, stages in written.items():
        assert [s.lower() for s in stages] == [s.name for s in getattr(plan, name)], name
