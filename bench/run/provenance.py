"""Where a result came from: library versions, source hashes, timestamps.

Source hashes are part of cache keys: a change to a model definition, a quantizer or the
training loop must not reuse checkpoints trained by the old code.
"""

from __future__ import annotations

import hashlib
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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


def source_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def models_source_hash() -> str:
    import models

    return source_hash(*Path(models.__file__).parent.glob("*.py"))


def training_source_hash() -> str:
    from bench.stages import train

    return source_hash(Path(train.__file__))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
