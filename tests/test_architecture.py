"""The layout's rules, checked on the source: no import cycles, one door to FINN,
models independent of the harness, no oversized modules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500


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
