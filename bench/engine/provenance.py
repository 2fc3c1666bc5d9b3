"""Where a result came from: library versions, source hashes, timestamps.

Source hashes are part of cache keys: a change to a model definition, a quantizer, the
training loop or an HDL file must not reuse artifacts made by the old code. Stages name
their sources (`Stage.sources`); the files behind those names are found here, never typed
out by hand.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

from bench.core.spec import source_hash

_PACKAGES = (
    ("torch", "torch"), ("brevitas", "brevitas"), ("qonnx", "qonnx"), ("finn", "finn-plus"),
    ("onnx", "onnx"),
)


def versions() -> dict[str, str]:
    result = {"python": platform.python_version()}
    for name, dist in _PACKAGES:
        try:
            result[name] = version(dist)
        except PackageNotFoundError:
            result[name] = "missing"
    return result


# What a package's artifacts can depend on besides Python: HDL, fitted coefficients.
SOURCE_SUFFIXES = (".py", ".sv", ".v", ".json")


@cache
def sources_hash(names: tuple[str, ...]) -> str:
    """One hash over the files of dotted modules or packages (a package: every code and
    data file below it). Cached per process: sources do not change under a running sweep."""
    return source_hash(*(f for name in names for f in source_files(name)))


def source_files(name: str) -> list[Path]:
    """The files behind a dotted module or package name; a name that does not import is
    a programming error in a stage declaration, so it raises."""
    spec = find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"stage source {name!r} is not an importable module")
    origin = Path(spec.origin)
    if origin.name != "__init__.py":
        return [origin]
    return sorted(p for p in origin.parent.rglob("*")
                  if p.is_file() and p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
