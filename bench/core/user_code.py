"""The source of a user's model module as one hash: what `package.module:factory` is.

A run of an external Brevitas factory is identified by this hash (`factory_sha256` of
its spec), so editing the module, or a module of the user's own code that it imports,
gives a new run and a new training instead of the old record.

Tracked:

* the module that defines the factory, and the `__init__.py` of every package above it;
* every module it imports (`import a.b`, `from a import b`, relative imports), then
  the modules those import, and so on, as long as they are the user's own code: found
  in the same directory of the Python path as the factory's top-level package or
  module. Where that directory holds installed packages (site-packages), only the
  modules of the factory's own top-level package count.

Not tracked: installed third-party packages (torch and Brevitas enter the training
cache's key by version, others not at all), the standard library, modules imported by
other means than import statements (`importlib`, `__import__`, `exec`), and data files
or anything else the code reads when it runs.

The files are found on the Python path without importing or running any of them, so a
finished run's record is found before torch is imported.
"""

from __future__ import annotations

import ast
import hashlib
import os
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

_INSTALLED_DIRS = ("site-packages", "dist-packages")


class ModuleNotFound(ValueError):
    """The factory's module is not on the Python path."""


def factory_sha256(model: str) -> str:
    """SHA-256 over the tracked files of `package.module:factory` (paths and contents)."""
    module = model.partition(":")[0]
    files = tracked_files(module)
    digest = hashlib.sha256()
    for rel, path in sorted(files.items()):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def tracked_files(module: str) -> dict[str, Path]:
    """The tracked source files of `module`, by their path relative to its Python path
    directory; ModuleNotFound if the module cannot be found there."""
    top = module.partition(".")[0]
    top_spec = _find_top(top)
    if top_spec is None or find_module(module) is None:
        raise ModuleNotFound(f"cannot import {module[:80]}: not found on the Python path "
                             "(PYTHONPATH)")
    roots = _homes(top_spec)
    installed = any(root.name in _INSTALLED_DIRS for root in roots)

    def ours(name: str) -> bool:
        first = name.partition(".")[0]
        if installed:
            return first == top
        spec = top_spec if first == top else _find_top(first)
        return spec is not None and bool(_homes(spec) & roots)

    files: dict[str, Path] = {}
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or not ours(name):
            continue
        seen.add(name)
        for path, package, is_package in _files_of(name):
            files[_relative(path, roots)] = path
            if path.suffix == ".py":
                todo.extend(_imports(path, package if is_package else package.rpartition(".")[0]))
    return files


def find_module(name: str) -> ModuleSpec | None:
    """A dotted module's spec, found on the Python path without importing its parents."""
    parts = name.split(".")
    spec = _find_top(parts[0])
    for i in range(1, len(parts)):
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = PathFinder.find_spec(".".join(parts[: i + 1]),
                                    list(spec.submodule_search_locations))
    return spec


def _find_top(name: str) -> ModuleSpec | None:
    """A top-level module on the Python path, else in the working directory: the
    installed `qnnbench` script has no working directory on sys.path, and the factory is
    then imported from there too (`bench.learn.train.import_user_module`)."""
    return PathFinder.find_spec(name) or PathFinder.find_spec(name, [os.getcwd()])


def _homes(spec: ModuleSpec) -> set[Path]:
    """The Python path directories a top-level module or package was found in."""
    if spec.submodule_search_locations:
        return {Path(p).resolve().parent for p in spec.submodule_search_locations}
    return {Path(spec.origin).resolve().parent} if spec.origin and spec.has_location else set()


def _files_of(name: str) -> list[tuple[Path, str, bool]]:
    """The files that run when `name` is imported: each package's `__init__` above it and
    its own file, with the dotted name each belongs to and whether that is a package."""
    parts = name.split(".")
    found = []
    for i in range(1, len(parts) + 1):
        dotted = ".".join(parts[:i])
        spec = find_module(dotted)
        if spec is None:  # `from a import b` where b is a name, not a module
            break
        if spec.origin and spec.has_location and Path(spec.origin).is_file():
            found.append((Path(spec.origin), dotted, bool(spec.submodule_search_locations)))
    return found


def _imports(path: Path, package: str) -> list[str]:
    """Dotted names a module's import statements may load (absolute, as seen from
    `package`, the package the module belongs to)."""
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (SyntaxError, ValueError):
        return []  # importing it fails with a clear error; its bytes are still hashed
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".") if package else []
                parent = parent[: len(parent) - (node.level - 1)] if node.level > 1 else parent
                base = ".".join([*parent, *([base] if base else [])])
            if not base:
                continue
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _relative(path: Path, roots: set[Path]) -> str:
    resolved = path.resolve()
    for root in sorted(roots):
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return resolved.as_posix()
