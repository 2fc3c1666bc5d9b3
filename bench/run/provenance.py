"""Where a result came from: library versions, source hashes, timestamps.

Source hashes are part of cache keys: a change to a model definition, a quantizer or the
training loop must not reuse checkpoints trained by the old code.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
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


def models_source_hash() -> str:
    import models

    return source_hash(*Path(models.__file__).parent.glob("*.py"))


def training_source_hash() -> str:
    from bench.stages import train

    return source_hash(Path(train.__file__))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
