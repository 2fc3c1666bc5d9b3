"""Cycle-accurate simulation of an AXI-stream RTL module with Verilator.

The module under test has FINN's stream interface, already adapted by the caller to
`ap_clk`, `ap_rst_n`, `s_axis_{tdata,tvalid,tready}` and `m_axis_{tdata,tvalid,tready}`.
A generated C++ testbench keeps `s_axis_tvalid` high while input words remain and
`m_axis_tready` always high, so the module runs as fast as it can; it records every
output word and the cycle it left the module.

Compiled models are cached by a hash of the sources, top, parameters, testbench and
Verilator version: measuring many foldings of the same layer compiles once per folding.
Memory contents loaded with `$readmemh` are read when the model runs (relative paths
against `run_dir`), so they are not part of the compiled model. A built model's SHA-256
is kept next to it (`model.json`, sealed with the key) and checked before every use: a
truncated or replaced executable, or one built before the check existed, is reported by
name and built again instead of crashing every run that uses it.

With `coverage=True` the model is built with Verilator's toggle coverage and its
testbench zeroes the counters once reset ends and writes `coverage.dat` into `run_dir`
(read by `bench.rtl.activity`). Such a model is slower, so it is a separate cache entry;
without the option the flags, testbench and cache key are what they always were.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.core.checksum import ChecksumMismatch, file_sha256, seal, unseal
from bench.core.warn import warn
from bench.rtl.tools import (
    TOOLS,
    RtlToolError,
    file_lock,
    find_executable,
    run,
    tool_versions,
)

RESET_CYCLES = 16
# The PyPI build's verilated.mk leaves the option that includes a precompiled header
# empty, so once a large design is split into several C++ files (whose compile rules use
# the header) g++ gets the header's name as an input file and fails; GCC's is -include.
_PCH_INCLUDE = "CFG_CXXFLAGS_PCH_I=-include"
CACHE_ENV = "QNNBENCH_RTL_CACHE"
MODEL_FILE = "model.json"  # the built executable's SHA-256, sealed with the model's key
COVERAGE_FILE = "coverage.dat"  # written into run_dir by a coverage model
COVERAGE_FLAGS = ("--coverage-toggle",)


@dataclass
class SimResult:
    """What came out of the module: words, the cycle of each, and the run's length."""

    outputs: list[int]
    output_cycles: list[int]  # cycle (after reset) each output word was accepted
    input_cycles: list[int]  # cycle each input word was accepted
    cycles: int  # cycles run until the last expected output (or the timeout)
    timed_out: bool
    build_seconds: float = 0.0
    run_seconds: float = 0.0
    model_dir: Path | None = None
    gaps: list[int] = field(default_factory=list)  # cycles between successive outputs
    coverage: Path | None = None  # coverage.dat of the run (coverage models only)

    def __post_init__(self) -> None:
        if not self.gaps:
            self.gaps = [b - a for a, b in itertools.pairwise(self.output_cycles)]


def default_cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "qnnbench" / "verilator"
    return Path(root)


def build_model(
    sources: list[Path], top: str, cache_dir: Path | None = None,
    params: dict[str, int] | None = None, defines: dict[str, str] | None = None,
    coverage: bool = False,
) -> tuple[Path, float]:
    """Compile (or find in the cache) the Verilator model; return its executable and the
    seconds spent compiling (0 for a cache hit). `coverage`: with toggle coverage."""
    cache_dir = cache_dir or default_cache_dir()
    key = _model_key(sources, top, params or {}, defines or {}, coverage)
    model_dir = cache_dir / f"{top}-{key[:16]}"
    with file_lock(cache_dir / f"{top}-{key[:16]}.lock"):
        exe = model_dir / "obj" / "Vtb_top"
        if _intact(exe, model_dir / MODEL_FILE, key):
            return exe, 0.0
        shutil.rmtree(model_dir / "obj", ignore_errors=True)  # make would trust its files
        built = _build_model(sources, top, model_dir, params, defines, coverage)
        _keep_only(exe)
        record = seal({"exe": "obj/Vtb_top", "sha256": file_sha256(exe)}, key)
        tmp = model_dir / f".{MODEL_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(record, sort_keys=True))
        os.replace(tmp, model_dir / MODEL_FILE)
        return built


def _keep_only(exe: Path) -> None:
    """Remove the build's intermediates beside the executable. The generated C++, objects
    and precompiled headers are 10-25x the executable (up to 0.5 GB for one stitched
    network), the executable is self-contained, and the cache never rebuilds in place."""
    for path in exe.parent.iterdir():
        if path != exe:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _intact(exe: Path, record: Path, key: str) -> bool:
    """Whether the cached executable is the one that was built for `key`; a model that
    is there but fails the check is reported by name (it is then built again)."""
    if not exe.exists() and not record.exists():
        return False
    try:
        built = unseal(json.loads(record.read_text()), key)
        if exe.is_file() and built.get("sha256") == file_sha256(exe):
            return True
        problem = "is missing or does not match the checksum recorded when it was built"
    except ChecksumMismatch as err:
        problem = f"has a model record that {err}"
    except (OSError, ValueError):
        problem = f"has no readable model record {record.name}"
    warn(f"cached Verilator model {exe} {problem}; building it again")
    return False


def _build_model(
    sources: list[Path], top: str, model_dir: Path, params: dict[str, int] | None,
    defines: dict[str, str] | None, coverage: bool = False,
) -> tuple[Path, float]:
    exe = model_dir / "obj" / "Vtb_top"
    started = time.monotonic()
    # Anything here is from a build that did not finish (killed, failed) or failed its
    # check: a half-linked executable or truncated objects that make would take as up to
    # date. Start from nothing; only the sealed model record written after a finished
    # build makes the model count (see `build_model`).
    shutil.rmtree(model_dir / "obj", ignore_errors=True)
    model_dir.mkdir(parents=True, exist_ok=True)
    tb = model_dir / "tb.cpp"
    tb.write_text(COVERAGE_TESTBENCH if coverage else TESTBENCH)
    cmd = [
        str(find_executable(TOOLS.verilator)), "--cc", "--exe", "--build", "-j", "2",
        "--no-timing", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-initial", "0",
        "--top-module", top, "--prefix", "Vtb_top", "--Mdir", str(model_dir / "obj"),
        "-CFLAGS", "-O1", "-MAKEFLAGS", _PCH_INCLUDE, *(COVERAGE_FLAGS if coverage else ()),
        *(f"-G{k}={v}" for k, v in (params or {}).items()),
        *(f"+define+{k}={v}" for k, v in (defines or {}).items()),
        *(str(Path(s).resolve()) for s in sources), str(tb),
    ]
    run(cmd, cwd=model_dir, log=model_dir / "build.log")
    if not exe.is_file():
        raise RtlToolError(f"verilator built no model (log: {model_dir / 'build.log'})")
    return exe, time.monotonic() - started


def simulate(
    sources: list[Path], top: str, inputs: list[int], in_width: int, out_width: int,
    expected_outputs: int, run_dir: Path, cache_dir: Path | None = None,
    params: dict[str, int] | None = None, max_cycles: int | None = None,
    stall_percent: int = 0, seed: int = 0, coverage: bool = False,
    defines: dict[str, str] | None = None, pacing: tuple[int, int] | None = None,
) -> SimResult:
    """Stream `inputs` through `top` and collect `expected_outputs` words.

    `in_width`/`out_width` are the tdata widths of the top's ports. The run stops after
    the expected number of outputs or, if the module stalls, after `max_cycles`. With
    `stall_percent` the output is not ready in that share of the cycles (seeded random
    backpressure): a design must still deliver every word, unchanged and in order.
    With `coverage` the run also leaves its toggle counts (after reset) in
    `run_dir/coverage.dat`, named by `SimResult.coverage`. `defines` are Verilog macros
    the model is compiled with (a separate cached model per set). `pacing` is
    (words per image, period): image k's input words are offered from cycle k·period on,
    as from a source that sends images at that rate instead of as fast as they are taken.
    """
    if not 0 <= stall_percent < 100:
        raise ValueError(f"stall_percent must be in 0..99, got {stall_percent}")
    exe, build_seconds = build_model(sources, top, cache_dir, params, defines, coverage)
    run_dir.mkdir(parents=True, exist_ok=True)
    stim = run_dir / f"{top}.in.hex"
    result = run_dir / f"{top}.out.txt"
    stim.write_text("".join(f"{w:x}\n" for w in inputs))
    counts = run_dir / COVERAGE_FILE
    counts.unlink(missing_ok=True)  # a count from an earlier run must not pass for this one
    limit = max_cycles or 20 * (len(inputs) + expected_outputs) + 10_000
    limit = limit * 100 // (100 - stall_percent) + 1  # a stalled consumer takes longer
    if pacing:
        limit += -(-len(inputs) // pacing[0]) * pacing[1]  # and a paced source
    started = time.monotonic()
    stalls = [str(stall_percent), str(seed)] if stall_percent or pacing else []
    if pacing:
        words, period = pacing
        if words < 1 or period < 1:
            raise ValueError(f"pacing needs words per image and a period >= 1, got {pacing}")
        stalls += [str(words), str(period)]
    run([str(exe), str(stim), str(result), str(expected_outputs), str(limit),
         str(RESET_CYCLES), *stalls], cwd=run_dir, log=run_dir / f"{top}.sim.log")
    outputs, out_cycles, in_cycles, cycles, timed_out = _read_result(result)
    return SimResult(
        outputs=[w & ((1 << out_width) - 1) for w in outputs], output_cycles=out_cycles,
        input_cycles=in_cycles, cycles=cycles, timed_out=timed_out,
        build_seconds=build_seconds, run_seconds=time.monotonic() - started,
        model_dir=exe.parent.parent, coverage=counts if coverage else None,
    )


def _read_result(path: Path) -> tuple[list[int], list[int], list[int], int, bool]:
    outputs, out_cycles, in_cycles = [], [], []
    cycles, timed_out = 0, False
    for line in path.read_text().splitlines():
        kind, *rest = line.split()
        if kind == "o":
            out_cycles.append(int(rest[0]))
            outputs.append(int(rest[1], 16))
        elif kind == "i":
            in_cycles.append(int(rest[0]))
        elif kind == "end":
            cycles, timed_out = int(rest[0]), rest[1] == "timeout"
    return outputs, out_cycles, in_cycles, cycles, timed_out


def _model_key(
    sources: list[Path], top: str, params: dict[str, int], defines: dict[str, str],
    coverage: bool = False,
) -> str:
    h = hashlib.sha256()
    for s in sources:
        h.update(Path(s).name.encode())
        h.update(Path(s).read_bytes())
    h.update(repr((top, sorted(params.items()), sorted(defines.items()))).encode())
    h.update(TESTBENCH.encode())
    if coverage:  # appended only here: the keys of models without coverage stay as they were
        h.update(repr(COVERAGE_FLAGS).encode())
        h.update(COVERAGE_TESTBENCH.encode())
    h.update(tool_versions()["verilator"].encode())
    return h.hexdigest()


# Works for any tdata width: Verilator holds <= 64-bit ports in integers and wider ones in
# VlWide arrays of 32-bit words; both are filled from / printed as hex, LSB word first.
TESTBENCH = r"""
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>
#include "Vtb_top.h"
#include "verilated.h"

using Words = std::vector<uint32_t>;

static Words parse_hex(const std::string& hex) {
    Words w;
    for (int end = (int)hex.size(); end > 0; end -= 8) {
        int begin = end > 8 ? end - 8 : 0;
        w.push_back((uint32_t)std::stoul(hex.substr(begin, end - begin), nullptr, 16));
    }
    return w;
}

template <std::size_t N> static void put(VlWide<N>& s, const Words& w) {
    for (std::size_t i = 0; i < N; i++) s[i] = i < w.size() ? w[i] : 0;
}
template <typename T> static void put(T& s, const Words& w) {
    uint64_t v = w.empty() ? 0 : w[0];
    if (w.size() > 1) v |= (uint64_t)w[1] << 32;
    s = (T)v;
}
template <std::size_t N> static std::string hex(const VlWide<N>& s) {
    std::string out;
    char buf[9];
    for (std::size_t i = N; i-- > 0;) { std::snprintf(buf, sizeof buf, "%08x", s[i]); out += buf; }
    return out;
}
template <typename T> static std::string hex(const T& s) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)s);
    return buf;
}

int main(int argc, char** argv) {
    if (argc != 6 && argc != 8 && argc != 10) {
        std::fprintf(stderr, "usage: in.hex out.txt n_out max_cycles reset "
                             "[stall_pct seed [words_per_image period]]\n");
        return 2;
    }
    std::vector<Words> in;
    std::ifstream stim(argv[1]);
    for (std::string line; std::getline(stim, line);)
        if (!line.empty()) in.push_back(parse_hex(line));
    std::FILE* out = std::fopen(argv[2], "w");
    const long n_out = std::atol(argv[3]), max_cycles = std::atol(argv[4]);
    const long reset = std::atol(argv[5]);
    // Backpressure: the consumer is not ready in stall_pct % of the cycles, drawn from a
    // seeded generator (64-bit LCG) so that a run repeats exactly.
    const long stall_pct = argc >= 8 ? std::atol(argv[6]) : 0;
    uint64_t state = argc >= 8 ? (uint64_t)std::atoll(argv[7]) * 2654435761ULL + 1 : 1;
    // Pacing: input word k belongs to image k / words_per_image, offered from cycle
    // image * period on (0: every word as soon as the previous one is taken).
    const long words_per_image = argc == 10 ? std::atol(argv[8]) : 0;
    const long period = argc == 10 ? std::atol(argv[9]) : 0;

    VerilatedContext ctx;
    Vtb_top top(&ctx);
    top.ap_clk = 0; top.ap_rst_n = 0; top.s_axis_tvalid = 0; top.m_axis_tready = 0;
    top.eval();
    for (long i = 0; i < reset; i++) { top.ap_clk = 1; top.eval(); top.ap_clk = 0; top.eval(); }
    top.ap_rst_n = 1;

    std::size_t next = 0;
    long got = 0, cycle = 0;
    for (; cycle < max_cycles && got < n_out; cycle++) {
        const bool offer = next < in.size() && (period == 0
                           || cycle >= (long)(next / words_per_image) * period);
        top.s_axis_tvalid = offer;
        if (offer) put(top.s_axis_tdata, in[next]);
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        top.m_axis_tready = (long)((state >> 33) % 100) >= stall_pct;
        top.ap_clk = 0; top.eval();
        const bool in_fire = top.s_axis_tvalid && top.s_axis_tready;
        if (top.m_axis_tvalid && top.m_axis_tready) {
            std::fprintf(out, "o %ld %s\n", cycle, hex(top.m_axis_tdata).c_str());
            got++;
        }
        if (in_fire) { std::fprintf(out, "i %ld\n", cycle); next++; }
        top.ap_clk = 1; top.eval();
    }
    std::fprintf(out, "end %ld %s\n", cycle, got < n_out ? "timeout" : "done");
    std::fclose(out);
    top.final();
    return 0;
}
"""


def _with_coverage(testbench: str) -> str:
    """The testbench that also counts toggles: counters zeroed when reset ends (reset is
    the same for every design and input, so it would only dilute a comparison) and
    written on exit."""
    edits = {
        '#include "verilated.h"\n': '#include "verilated.h"\n#include "verilated_cov.h"\n',
        "    top.ap_rst_n = 1;\n": "    top.ap_rst_n = 1;\n    ctx.coveragep()->zero();\n",
        "    top.final();\n": f'    top.final();\n    ctx.coveragep()->write("{COVERAGE_FILE}");\n',
    }
    for old, new in edits.items():
        if testbench.count(old) != 1:
            raise AssertionError(f"testbench anchor {old!r} is not unique")
        testbench = testbench.replace(old, new)
    return testbench


COVERAGE_TESTBENCH = _with_coverage(TESTBENCH)
