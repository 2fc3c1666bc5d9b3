"""A patched working copy of FINN's RTL library.

FINN's HDL generators refer to sources inside the installed package
(`<site-packages>/finn/finn-rtllib/`). The open-source tools need a few edits to those
sources (see `patches.py`), and the installed package must stay untouched, so each build
directory gets its own copy with the patches applied, and source paths are rebased onto it.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from bench.rtl.patches import PATCHES, Patch, apply_patches

RTLLIB_DIRNAME = "finn-rtllib"
_STAMP = ".qnnbench-patched"


def finn_rtllib_dir() -> Path:
    """The installed finn-rtllib, found without importing FINN (which is slow)."""
    spec = importlib.util.find_spec("finn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("finn-plus is not installed; run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / RTLLIB_DIRNAME
    if not path.is_dir():
        raise FileNotFoundError(f"FINN's RTL library not found at {path}")
    return path


def prepare_rtllib(dest: Path, patches: tuple[Patch, ...] = PATCHES) -> Path:
    """Copy finn-rtllib to `dest` (replacing an older copy) and apply `patches` there."""
    stamp = dest / _STAMP
    names = ",".join(p.name for p in patches)
    if stamp.is_file() and stamp.read_text() == names:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        finn_rtllib_dir(), dest, ignore=shutil.ignore_patterns("__pycache__", "*.py")
    )
    apply_patches(dest, patches)
    stamp.write_text(names)
    return dest


def rebase(path: Path | str, rtllib_copy: Path) -> Path:
    """Map a path inside the installed finn-rtllib onto the copy; leave others as they are."""
    path = Path(path).resolve()
    original = finn_rtllib_dir().resolve()
    if path.is_relative_to(original):
        return rtllib_copy / path.relative_to(original)
    return path
