"""Every dotted name the docs show exists: a moved module or a renamed function fails here.

Names are taken from code (inline code spans, fenced blocks and mkdocstrings' `:::` lines)
in README.md and docs/*.md: anything that starts with `bench.` or `models.`, such as
`bench.core.spec.RunSpec` or `python -m bench.data.digits_idx`, and the names a
`from bench... import a, b` line imports. Each is resolved by importing the longest
importable module prefix and looking the rest up as attributes.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250
MIN_NAMES = 10

FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
DIRECTIVE = re.compile(r"^:::[ \t]+(\S+)", re.MULTILINE)
# Not part of a longer word, path or file name: `qnnbench`, `tests.byo.tiny_models`,
# `docs/models.md` and `qnn-bench` do not count.
DOTTED = re.compile(r"(?<![\w./-])((?:bench|models)(?:\.[A-Za-z_]\w*)+)")
FROM_IMPORT = re.compile(r"^\s*from\s+((?:bench|models)[\w.]*)\s+import\s+([\w, ]+)$",
                         re.MULTILINE)


def _code(text: str) -> list[str]:
    """The code in a Markdown text: fenced blocks, `:::` directives, inline spans."""
    blocks = FENCED.findall(text)
    prose = FENCED.sub("", text)
    return [*blocks, *DIRECTIVE.findall(prose), *(span for _, span in INLINE.findall(prose))]


def documented_names() -> dict[str, set[str]]:
    """Dotted name -> the documents that show it."""
    found: dict[str, set[str]] = {}
    for doc in DOCS:
        where = doc.relative_to(ROOT).as_posix()
        for code in _code(doc.read_text()):
            names = set(DOTTED.findall(code))
            for module, imported in FROM_IMPORT.findall(code):
                names |= {f"{module}.{n.strip()}" for n in imported.split(",") if n.strip()}
            for name in names:
                found.setdefault(name, set()).add(where)
    return found


def _has_field(obj: Any, attr: str) -> bool:
    """Fields of pydantic models and dataclasses without a class attribute still count."""
    return attr in (getattr(obj, "model_fields", None) or {}) or \
        attr in (getattr(obj, "__dataclass_fields__", None) or {})


def resolve(name: str) -> str | None:
    """None if `name` exists, else why not."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            missing = err.name or ""
            if module_name == missing or module_name.startswith(missing + "."):
                continue  # this prefix is not a module: try a shorter one
            return f"importing {module_name} failed: {err}"
        except Exception as err:  # a module that exists but does not import
            return f"importing {module_name} failed: {type(err).__name__}: {err}"
        for depth, attr in enumerate(parts[split:], start=split):
            if hasattr(obj, attr):
                obj = getattr(obj, attr)
            elif _has_field(obj, attr) and depth == len(parts) - 1:
                return None
            else:
                return f"{'.'.join(parts[:depth])} has no attribute {attr!r}"
        return None
    return f"no module {parts[0]!r}"


def test_readme_is_a_front_door():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines, at most " \
                                      f"{README_MAX_LINES}: move the detail to docs/"


def test_every_documented_dotted_name_resolves():
    names = documented_names()
    assert len(names) >= MIN_NAMES, f"only {len(names)} dotted names found: {sorted(names)}"
    broken = {name: why for name in sorted(names) if (why := resolve(name)) is not None}
    report = "\n".join(f"  {name} ({', '.join(sorted(names[name]))}): {why}"
                       for name, why in broken.items())
    assert not broken, f"{len(broken)} of {len(names)} documented names do not resolve:\n" \
                       f"{report}"


def test_the_resolver_rejects_what_does_not_exist():
    assert resolve("bench.core.spec.RunSpec") is None
    assert resolve("bench.core.spec.RunSpec.qonnx") is None  # a pydantic field
    assert resolve("bench.core.spec.NoSuchName") is not None
    assert resolve("bench.no_such_package.spec") is not None
    assert DOTTED.findall("see docs/models.md, qnnbench, tests.byo.tiny_models:f") == []
    assert DOTTED.findall("python -m bench.data.digits_idx DIR") == ["bench.data.digits_idx"]
