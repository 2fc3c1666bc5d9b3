"""Switching activity of a simulated design, and a relative energy proxy built on it.

Dynamic power of CMOS logic is about α·C·V²·f per node: what a design spends per
inference grows with how many of its nodes switch (α) and how much capacitance each one
drives (C). Verilator's toggle coverage counts α for every bit of every named RTL signal;
that is all this module measures. The proxy it reports is

    energy per inference ∝ Σ toggles · weight / images,

with the weight of every toggle equal to 1: every RTL signal bit is assumed to drive the
same capacitance. No bit is weighted more for sitting in a multiplier or DSP: RTL
signals show a product's result, not the partial products and carry chains that make it,
so a heavier weight would be a guess we cannot tie to a net. The proxy is therefore only
meaningful as a ratio between designs simulated on the same inputs with the same
hierarchy of named signals (our unit's int and pot datapaths at one folding); it is never
a number of joules, and it leaves out clock-tree, memory-read, static and routing power.

What is counted:

* toggles after reset only (the coverage testbench zeroes the counters when reset ends);
* ports are left out: an input port is the parent's net or the testbench's stimulus,
  an output port is a child's signal seen again in its parent (or, at our top, an
  `assign` of an internal register), so counting them would count those nets twice;
* signals that only copy, slice or sign-extend another are left out when named in
  `exclude` (`UNIT_COPIES` for our unit, read off its HDL). They cannot be found from
  the counts: a pipeline register toggles exactly as often as its source, too. Leaving
  them in would tilt the ratio by how Verilator happened to keep names (it kept the
  adder tree's sign-extended `node` array for pot but optimised it away for int);
* every other named signal counts once per bit;
* instances of one module are summed: Verilator merges their points (hierarchy `[*]`).

The coverage file is Verilator's documented text format: one line per point,
`C '<key-value pairs>' <count>`, keys and values separated by the bytes 0x01 and 0x02.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.rtl import mvu_unit, verilator

_KEY_SEP, _VALUE_SEP = "\x01", "\x02"
_POINT = re.compile(r"^C '(?P<keys>.*)' (?P<count>\d+)\s*$")
# a toggle point's comment: signal[index]...[bit]:0->1 (or 1->0), the signal possibly
# inside generate scopes (`g_tree.g_level[0].s[3]`); the trailing indices select the bit
_TOGGLE = re.compile(r"^(?P<signal>.+?)(?P<index>(?:\[\d+\])*):(?P<edge>0->1|1->0)$")
_MODULE = re.compile(r"\bmodule\s+(\w+)\b(.*?)\);", re.S)
# Our unit's signals that are another signal again (see the HDL): the adder tree's
# `node` array holds the terms and the level sums sign-extended, `dot_c` is the adder's
# sum wired out of the lane, int's `terms` is its product `p`, pot's `s` and `c` are
# fields of the weight, `vd`..`nfd` are a beat's control after the adder tree's
# pipeline registers (the stage-1 registers themselves without them).
UNIT_COPIES = (
    r"qnnbench_adder\.g_tree\.node",
    r"qnnbench_mvu\.dot_c",
    r"qnnbench_mvu\.(?:vd|firstd|lastd|nfd)\b",
    r"qnnbench_dot\.g_int\.g_lane\[\d+\]\.p",
    r"qnnbench_dot\.g_pot\.g_lane\[\d+\]\.[sc]",
)
_PORT = re.compile(r"\b(?:input|output|inout)\b[^,;)]*?(\w+)\s*(?=[,)]|$)", re.M)


@dataclass(frozen=True)
class TogglePoint:
    """One counted edge of one bit: `module` as elaborated (without Verilator's
    parameter suffix), `signal` and `index` (e.g. `[2][5]`) as in the RTL."""

    module: str
    hier: str
    signal: str
    index: str
    rising: bool
    count: int


def parse_coverage(path: Path) -> list[TogglePoint]:
    """The toggle points of a coverage.dat (other coverage kinds are skipped)."""
    points = []
    for line in path.read_text().splitlines():
        match = _POINT.match(line)
        if match is None:
            continue  # the header comment and blank lines
        keys = dict(kv.split(_VALUE_SEP, 1) for kv in match["keys"].split(_KEY_SEP) if kv)
        if keys.get("t") != "toggle" and not keys.get("page", "").startswith("v_toggle/"):
            continue
        toggle = _TOGGLE.match(keys.get("o", ""))
        if toggle is None:
            raise ValueError(f"{path}: toggle point {keys.get('o')!r} is not signal[bit]:edge")
        module = keys.get("page", "").removeprefix("v_toggle/").split("__")[0]
        points.append(TogglePoint(module, keys.get("h", ""), toggle["signal"],
                                  toggle["index"], toggle["edge"] == "0->1",
                                  int(match["count"])))
    return points


def port_names(sources: list[Path]) -> dict[str, set[str]]:
    """Per module, the names in its ANSI port list (the style of our HDL)."""
    ports: dict[str, set[str]] = {}
    for source in sources:
        text = re.sub(r"//[^\n]*", "", Path(source).read_text())
        for module, header in _MODULE.findall(text):
            ports[module] = set(_PORT.findall(header))
    return ports


@dataclass
class Activity:
    """Toggles of one run: per net (`module.signal`, after the rules in the module
    docstring) and how many images (input vectors) the run processed."""

    images: int
    per_signal: dict[str, int]
    raw_total: int  # every toggle point Verilator reported, ports and renames included
    cycles: int = 0

    @property
    def total(self) -> int:
        return sum(self.per_signal.values())

    @property
    def per_image(self) -> float:
        """The energy proxy: counted toggles per image, every toggle weighing 1."""
        return self.total / self.images


def count_toggles(points: list[TogglePoint], ports: dict[str, set[str]], images: int,
                  cycles: int = 0, exclude: tuple[str, ...] = ()) -> Activity:
    """Aggregate toggle points into nets (see the module docstring for what is left out;
    `exclude`: regular expressions matching whole `module.signal` names of copies)."""
    copies = [re.compile(pattern) for pattern in exclude]
    per_signal: dict[str, int] = defaultdict(int)
    for p in points:
        name = f"{p.module}.{p.signal}"
        if p.signal in ports.get(p.module, set()) or any(c.fullmatch(name) for c in copies):
            continue
        per_signal[name] += p.count
    per_signal = dict(per_signal)
    return Activity(images=images, per_signal=per_signal, cycles=cycles,
                    raw_total=sum(p.count for p in points))


def simulate_activity(
    sources: list[Path], top: str, inputs: list[int], in_width: int, out_width: int,
    expected_outputs: int, images: int, run_dir: Path, cache_dir: Path | None = None,
    params: dict[str, int] | None = None, exclude: tuple[str, ...] = (),
    max_cycles: int | None = None,
) -> tuple[Activity, verilator.SimResult]:
    """Stream `inputs` (holding `images` images) through `top` with toggle coverage
    (`max_cycles`: the run's limit, as for `verilator.simulate`)."""
    sim = verilator.simulate(sources, top, inputs, in_width, out_width, expected_outputs,
                             run_dir, cache_dir, params, max_cycles=max_cycles, coverage=True)
    if sim.timed_out or sim.coverage is None or not sim.coverage.is_file():
        raise RuntimeError(f"{top}: the coverage run did not finish (see {run_dir})")
    activity = count_toggles(parse_coverage(sim.coverage), port_names(sources), images,
                             sim.cycles, exclude)
    return activity, sim


def relative_energy(design: Activity, baseline: Activity) -> float:
    """Energy per inference of `design` as a fraction of `baseline`'s (same inputs)."""
    return design.per_image / baseline.per_image


def unit_energy(
    datapaths: tuple[mvu_unit.Datapath, ...], w_bits: int, inputs: np.ndarray,
    work_dir: Path, mw: int = 64, mh: int = 16, pe: int = 4, simd: int = 8,
    a_bits: int = 4, cache_dir: Path | None = None, seed: int = 0,
) -> dict[str, Activity]:
    """Activity of our unit per datapath at one folding, all fed the same `inputs`
    (N x MW) and holding random weights of their kind (drawn from `seed`), outputs
    checked against the reference so that a wrong run cannot pass for a cheap one."""
    result = {}
    for datapath in datapaths:
        cfg = mvu_unit.MvuConfig(mw, mh, pe, simd, a_bits, w_bits, datapath)
        rng = np.random.default_rng(seed)
        weights = mvu_unit.random_weights(mh, mw, w_bits, datapath, rng)
        run_dir = work_dir / f"{datapath}-w{w_bits}"
        mvu_unit.write_memories(cfg, weights, None, run_dir)
        activity, sim = simulate_activity(
            mvu_unit.sources(), mvu_unit.TOP, mvu_unit.pack_inputs(inputs, cfg),
            cfg.in_width, cfg.out_width, len(inputs) * cfg.nf, len(inputs), run_dir,
            cache_dir, cfg.params(), UNIT_COPIES)
        got = mvu_unit.unpack_outputs(sim.outputs, cfg)
        if not np.array_equal(got, mvu_unit.reference(weights, None, inputs, cfg.acc_bits)):
            raise RuntimeError(f"{datapath} W{w_bits}: coverage run is not bit-exact")
        result[datapath] = activity
    return result
