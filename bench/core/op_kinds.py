"""A hardware layer's kind, whatever FINN's implementation suffix or our unit stands in."""

from __future__ import annotations


def without_suffix(op_type: str) -> str:
    """The op type without FINN's _hls/_rtl implementation suffix; our units keep their
    own name, for the graph passes that must tell them from FINN's layers."""
    return op_type.removesuffix("_hls").removesuffix("_rtl")


def base_op(op_type: str) -> str:
    """The layer kind without FINN's _hls/_rtl suffix. Our units (--mvu rtl) take an
    MVAU's or a Pool's place, so they are named as those: folding files and stream rules
    written for FINN's graph still apply."""
    base = without_suffix(op_type)
    return {"QnnbenchMVU": "MVAU", "QnnbenchPool": "Pool"}.get(base, base)
