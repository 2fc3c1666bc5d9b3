"""What the files a spec names contain, filled into the spec when it is made.

A run is identified by content, not by paths: an external QONNX model by its file's
hash (and the label and bit widths read from it), the user's data by the hash of the
files the loader reads (`data_sha256`), an external Brevitas module by the hash of its
source and of the user's modules it imports (`factory_sha256`). A spec made earlier and
validated again (sent to a worker as a dict) must still match its files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.core import data_files, user_code
from bench.core.limits import short


def fill(data: dict[str, Any], default_dataset: str) -> dict[str, Any]:
    """The spec's raw fields with the content hashes (and an external model's fields)."""
    return _factory_content(_data_content(_external_file(data), default_dataset))


def factory_path(value: str) -> str:
    """`package.module:factory`: both parts must be dotted Python names."""
    module, _, name = value.partition(":")
    ident = r"[A-Za-z_][A-Za-z0-9_]*"
    if not re.fullmatch(rf"{ident}(\.{ident})*", module) or not re.fullmatch(ident, name):
        raise ValueError(f"external model {short(value)} must read package.module:factory")
    return value


def _external_file(data: dict[str, Any]) -> dict[str, Any]:
    """Fill an external QONNX model's label, hash and bit widths from its file."""
    if data.get("qonnx") is None:
        return data
    from bench.core import qonnx_file

    try:
        info = qonnx_file.describe(str(data["qonnx"]))
    except ValueError as err:
        raise ValueError(f"qonnx: {err}") from None
    found = {"model": info.label, "qonnx_sha256": info.sha256,
             "weight_bits": info.weight_bits, "act_bits": info.act_bits,
             "weight_quant": info.weight_quant}
    for key, value in found.items():
        if key in data and data[key] != value:
            what = ("the file changed since this spec was made" if key == "qonnx_sha256"
                    else "it is read from the QONNX file")
            raise ValueError(f"{key}: give no {key} with an external QONNX model ({what})")
    return {**data, **found}


def _data_content(data: dict[str, Any], default_dataset: str) -> dict[str, Any]:
    """The hash of the files a data set is read from in the user's data directory.

    Two directories with different files are two runs; the same files anywhere are one.
    Without a data directory the data set is digits (bundled) or the published files
    (downloaded and checked against pinned checksums): no hash, ids as before.
    """
    dataset = data.get("dataset", default_dataset)
    data_dir = data.get("data_dir")
    found = None
    if isinstance(dataset, str) and dataset.lower() in data_files.FILE_DATASETS and data_dir:
        try:
            found = data_files.data_sha256(dataset.lower(), Path(str(data_dir)).expanduser(),
                                           test_only=data.get("qonnx") is not None)
        except OSError as err:
            raise ValueError(f"data_dir: cannot read the data files ({err})") from None
    return _computed(data, "data_sha256", found, "the data files")


def _factory_content(data: dict[str, Any]) -> dict[str, Any]:
    """The hash of an external Brevitas module's source and the user's modules it imports
    (`bench.core.user_code` says what is tracked)."""
    model = data.get("model")
    found = None
    if isinstance(model, str) and ":" in model and not model.startswith("qonnx:"):
        try:
            factory_path(model)
        except ValueError:
            return data  # the field's own validator says what is wrong with it
        try:
            found = user_code.factory_sha256(model)
        except user_code.ModuleNotFound as err:
            raise ValueError(f"model: {err}") from None
        except OSError as err:
            raise ValueError(f"model: cannot read its source ({err})") from None
    return _computed(data, "factory_sha256", found, "the module's source")


def _computed(data: dict[str, Any], key: str, found: str | None, what: str) -> dict[str, Any]:
    """Put a content hash into the spec; one given with it (a spec made earlier and sent
    on as a dict) must still match the files."""
    given = data.get(key)
    if given is not None and given != found:
        reason = (f"{what} changed since this spec was made" if found is not None
                  else "it is computed from the files")
        raise ValueError(f"{key}: {reason}")
    return {**data, key: found} if found is not None else data
