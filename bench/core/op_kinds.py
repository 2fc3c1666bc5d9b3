"""A hardware layer's kind, whatever FINN's implementation suffix or our unit stands in."""

from __future__ import annotations


def base_op(op_type: str) -> str:
    """The layer kind without FINN's _hls/_rtl suffix. Our units (--mvu rtl) take an
    MVAU's or a Pool's place, so they are named as those: folding files and stream rules
    written for FINN's graph still apply."""
    base = op_type.removesuffix("_hls").removesuffix("_rtl")
    return {"QnnbenchMVU": "MVAU", "QnnbenchPool": "Pool"}.get(base, base)
