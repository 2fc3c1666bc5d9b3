"""A checksum over the values a cache entry stores and the key it was made for.

Cached numbers (an accuracy, a layer's measured LUTs) are read back as they are, so a
file that is still valid JSON but was edited, damaged or copied from another entry would
otherwise give a record with false numbers. Every cache that keeps values in a JSON file
(the stage cache's `done.json`, the synthesis cache's `result.json`, the Verilator model
cache's `model.json`) seals them with `seal` and trusts them only after `unseal`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CHECKSUM = "_sha256"


class ChecksumMismatch(ValueError):
    """Stored values that their checksum does not vouch for (the message says why)."""


def checksum(values: dict[str, Any], key: str) -> str:
    """SHA-256 of the key and the values (as JSON with sorted keys)."""
    blob = json.dumps({"key": key, "values": values}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def seal(values: dict[str, Any], key: str) -> dict[str, Any]:
    """The values with their checksum added (values must be plain JSON types)."""
    return {**values, CHECKSUM: checksum(values, key)}


def unseal(data: Any, key: str) -> dict[str, Any]:
    """The values of sealed `data` made for `key`; ChecksumMismatch if they are not."""
    if not isinstance(data, dict) or CHECKSUM not in data:
        raise ChecksumMismatch("has no checksum (written by an older version or damaged)")
    values = {k: v for k, v in data.items() if k != CHECKSUM}
    if data[CHECKSUM] != checksum(values, key):
        raise ChecksumMismatch("does not match its checksum (edited or damaged)")
    return values


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content, read in blocks (models and data files can be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
