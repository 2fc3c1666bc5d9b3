"""A plain description of one RTL layer's HDL: what the measuring tools need, and nothing
of the compiler that generated it (FINN fills it in; `bench.rtl` only reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LayerHdl:
    """The HDL FINN generated for one RTL layer, and what a testbench needs to drive it."""

    node: str
    op_type: str
    top: str  # FINN's top module for the layer
    hdl_dir: Path  # FINN's code generation directory (relative memory files live here)
    sources: list[Path]  # as FINN lists them: generated files and installed finn-rtllib
    in_width: int  # s_axis tdata bits (byte-padded, as in the wrapper)
    out_width: int
    out_bits: int  # meaningful bits of an output word (the rest is padding)
    weight_streamer: str | None = None  # module feeding in1_V from memory (MVAU decoupled)
    weight_width: int = 0
    exp_cycles: int = 0
    estimates: dict[str, float] = field(default_factory=dict)
    # top parameter -> memory file (in hdl_dir) it names; empty: the HDL reads its memory
    # files by fixed relative paths, so it works only with hdl_dir as working directory
    memory_params: dict[str, str] = field(default_factory=dict)
