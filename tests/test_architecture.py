"""The layout's rules, checked on the source: which package may import which (as
docs/architecture.md states them), no import cycles, one door to FINN, models independent
of the harness, no oversized modules."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500

# Package -> the packages of the project it may import (docs/architecture.md, "Packages").
# The measuring tools (rtl) are a leaf that FINN's side (finn_flow) may call, never the
# other way; stages are the only glue between the work packages.
ALLOWED = {
    "core": set(),
    "foldings": set(),
    "data": {"core"},
    "learn": {"core", "data", "models"},
    # layer costs calibrated on Yosys: plain arithmetic the search and FINN's side share
    "cost": {"core"},
    "rtl": {"core", "cost"},
    "finn_flow": {"core", "rtl", "cost"},
    "engine": {"core"},
    "stages": {"core", "data", "learn", "finn_flow", "rtl", "engine"},
    "run": {"core", "engine", "stages"},
    "report": {"core"},
    # perf times FINN's full build against the incremental path, and calibrate has FINN
    # generate the corpus's layers, so both call the door
    "studies": {"core", "data", "engine", "stages", "run", "report", "finn_flow", "cost"},
    "cli_parser": {"core", "studies"},
    "cli": {"core", "engine", "run", "report", "studies", "stages", "cli_parser"},
}


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every module named in an import statement, at any depth (lazy imports count)."""
    names = set()
    tree = ast.parse(path.read_text())
    typing_only = {  # `if TYPE_CHECKING:` imports exist for annotations, not at run time
        id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
        and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for stmt in block.body for n in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = {**_modules("bench"), **_modules("models")}
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def test_no_import_cycles_between_modules():
    graph = _graph()
    # A package's __init__ re-exporting its own modules is not a cycle of the design.
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle.extend([*path, node, dep])
                return True
            if dep not in state and visit(dep, [*path, node]):
                return True
        state[node] = 2
        return False

    for node in sorted(graph):
        if node not in state and visit(node, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_only_the_finn_door_imports_finn():
    offenders = [
        name for name, path in _modules("bench").items()
        if not name.startswith("bench.finn_flow")
        and any(m == "finn" or m.startswith("finn.") for m in _imports(path))
    ]
    assert offenders == []


def test_models_never_import_the_harness():
    offenders = [name for name, path in _modules("models").items()
                 if any(m == "bench" or m.startswith("bench.") for m in _imports(path))]
    assert offenders == []


def test_no_module_is_oversized():
    sizes = {name: len(path.read_text().splitlines())
             for name, path in {**_modules("bench"), **_modules("models")}.items()}
    assert {n: s for n, s in sizes.items() if s > MAX_LINES} == {}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "bench" and len(parts) > 1 else parts[0]


def _package_imports() -> dict[str, set[str]]:
    """Package -> the other project packages its modules import (models counts as one)."""
    result: dict[str, set[str]] = {}
    for name, deps in _graph().items():
        if name.startswith("models") or name == "bench":
            continue
        mine = _package(name)
        result.setdefault(mine, set()).update(
            _package(d) for d in deps if _package(d) != mine and d != "bench")
    return result


def test_every_package_has_stated_rules():
    assert set(_package_imports()) - set(ALLOWED) == set()


def test_packages_import_only_what_the_layout_allows():
    broken = {pkg: sorted(deps - ALLOWED[pkg]) for pkg, deps in _package_imports().items()
              if deps - ALLOWED.get(pkg, set())}
    assert broken == {}


def test_the_measuring_tools_never_reach_into_finn_flow():
    offenders = {name: sorted(m for m in _imports(path) if m.startswith("bench.finn_flow"))
                 for name, path in _modules("bench").items() if name.startswith("bench.rtl")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_import_cycles_between_packages():
    graph = _package_imports()
    seen: set[str] = set()

    def reaches(start: str, node: str, path: tuple[str, ...]) -> tuple[str, ...] | None:
        for dep in sorted(graph.get(node, ())):
            if dep == start:
                return (*path, dep)
            if dep not in path and (found := reaches(start, dep, (*path, dep))):
                return found
        return None

    cycles = [" -> ".join(c) for pkg in sorted(graph)
              if pkg not in seen and (c := reaches(pkg, pkg, (pkg,)))]
    assert cycles == []


def test_the_rules_would_catch_a_forbidden_import(tmp_path):
    """The checker itself: a leaf module importing FINN's side is reported."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from bench.finn_flow import rtl_layers\n")
    assert "bench.finn_flow.rtl_layers" in _imports(probe)


def test_every_package_is_a_regular_package_and_none_of_its_files_is_ignored():
    """A package directory without `__init__.py` imports as a namespace package here but is
    left out of installs and documentation builds; a source file matched by .gitignore
    works in this checkout and is missing from every clone."""
    dirs = {p.parent for root in ("bench", "models") for p in (ROOT / root).rglob("*.py")}
    assert sorted(str(d.relative_to(ROOT)) for d in dirs
                  if not (d / "__init__.py").is_file()) == []
    sources = [str(p.relative_to(ROOT)) for root in ("bench", "models")
               for p in (ROOT / root).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=ROOT,
                             input="\n".join(sources), capture_output=True, text=True)
    assert ignored.stdout.split() == []
