"""The matrix-vector-threshold unit in `hdl/` from Python: reference model, memory files,
streams, bit-exact simulation and synthesis.

The unit (`qnnbench_mvu`) has FINN's MVAU semantics with two weight datapaths: `int`
(signed W-bit weights, multipliers) and `pot` (power-of-two weights as sign + exponent
codes with one code for zero, shifters). Its memory layouts and the code encoding are
documented in the HDL; this module produces exactly those layouts so that the
simulation is checked against an independent numpy model rather than against the HDL's
own view of itself.

The reference model is the mathematics only (W·x, thresholds compared with it). What
the PoT datapath leaves out of its accumulator, each channel's count of negative
weights, is a property of the memory contents: `write_memories` folds it into the
thresholds or the accumulator's start values, and the simulation is compared with the
untouched reference. Nothing here imports FINN: the unit is verified and measured on its
own before it is wrapped as a FINN layer.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from bench.rtl import verilator, yosys

HDL_DIR = Path(__file__).parent / "hdl"
TOP = "qnnbench_mvu"
SOURCES = ("qnnbench_adder.sv", "qnnbench_dot.sv", "qnnbench_mvu.sv")
WEIGHT_FILE = "mvu_weights.hex"  # the HDL's default WEIGHT_FILE / THRESH_FILE / INIT_FILE
THRESH_FILE = "mvu_thresholds.hex"
INIT_FILE = "mvu_init.hex"
# Cycles from a vector's last input beat to its first output beat (see qnnbench_mvu.sv).
LATENCY = 3
THRESHOLD_LATENCY = 4

Datapath = Literal["int", "pot"]
DATAPATHS: tuple[Datapath, ...] = ("int", "pot")


def sources() -> list[Path]:
    """The unit's SystemVerilog files, in compilation order."""
    return [HDL_DIR / name for name in SOURCES]


def pot_code_bits(exps: int) -> int:
    """Bits of a PoT weight field: 1 + ⌈log2(exps + 1)⌉, a sign bit and an exponent
    code whose value `exps` means zero. A separate zero flag would cost a bit more
    whenever exps is not a power of two, as for every n-bit quantizer (exps = 2^(n-1)-1
    fills the codes exactly); for exps = 2, 4, 8, ... the zero code needs the bit."""
    return 1 + max(1, exps.bit_length())


def pot_exponents(w_bits: int) -> int:
    """r = 2^(n-1) - 1: an n-bit PoT weight is 0 or ±2^k with k = 0..r-1, the integers
    FINN holds for our PoT quantizer's levels {0, ±2^-i·s}."""
    return 2 ** (w_bits - 1) - 1


@dataclass(frozen=True)
class MvuConfig:
    """One instance of the unit; `params()` are its HDL parameters."""

    mw: int
    mh: int
    pe: int
    simd: int
    a_bits: int
    w_bits: int  # int: weight bits; pot: the PoT quantizer's bits n
    datapath: Datapath = "int"
    t_bits: int = 0  # 0: output the accumulator; else 2^t_bits - 1 thresholds per channel
    chain: bool = False  # adder chain instead of the balanced tree
    pin: bool = True  # adders as written; False lets synthesis re-associate the sums
    acc: int = 0  # accumulator bits; 0: the HDL's default, exact for any weights and inputs
    pot_exps: int = 0  # pot: exponents 0..pot_exps-1; 0: the n-bit quantizer's 2^(n-1)-1
    pipe: int = 0  # adder-tree levels per pipeline stage; 0: a PE's dot product in one

    def __post_init__(self) -> None:
        if self.datapath not in DATAPATHS:
            raise ValueError(f"datapath must be one of {DATAPATHS}, got {self.datapath!r}")
        if self.mw % self.simd or self.mh % self.pe:
            raise ValueError(f"SIMD={self.simd} must divide MW={self.mw} and PE={self.pe} "
                             f"must divide MH={self.mh}")
        if self.a_bits < 1 or self.w_bits < 2:
            raise ValueError(f"need a_bits >= 1 and w_bits >= 2, got A{self.a_bits} "
                             f"W{self.w_bits}")
        if self.t_bits < 0:
            raise ValueError(f"t_bits must be >= 0, got {self.t_bits}")
        if self.acc < 0:
            raise ValueError(f"acc must be >= 0, got {self.acc}")
        if self.pot_exps < 0:
            raise ValueError(f"pot_exps must be >= 0, got {self.pot_exps}")
        if self.pipe < 0 or (self.pipe and self.chain):
            raise ValueError(f"pipe must be >= 0 and needs the adder tree, got {self.pipe}")

    @property
    def sf(self) -> int:
        return self.mw // self.simd

    @property
    def nf(self) -> int:
        return self.mh // self.pe

    @property
    def pot(self) -> bool:
        return self.datapath == "pot"

    @property
    def exps(self) -> int:
        """POT_EXPS: the PoT exponents are 0 .. exps-1."""
        return self.pot_exps or pot_exponents(self.w_bits)

    @property
    def exp_bits(self) -> int:
        """Bits of the exponent code: codes 0..exps-1 are exponents, code exps is zero."""
        return pot_code_bits(self.exps) - 1

    @property
    def code_bits(self) -> int:
        """Bits of one weight in the weight memory."""
        return pot_code_bits(self.exps) if self.pot else self.w_bits

    @property
    def has_init(self) -> bool:
        """Whether the unit has the accumulator start-value memory (pot without
        thresholds: the start values make up for the negative weights' missing +1s)."""
        return self.pot and not self.t_bits

    @property
    def init_bits(self) -> int:
        """Bits of one start value: a count of up to MW negative weights, or fewer when
        the accumulator is narrower (the sum wraps like the register, so only the low
        ACC bits of the start value matter)."""
        return min(self.acc_bits, self.mw.bit_length())

    @property
    def acc_bits(self) -> int:
        """`acc` if given, else the HDL's default width: exact for any weights and inputs.

        A narrower `acc` (FINN's minimized accumulator type, exact for the weights it
        holds) wraps like a register of that width."""
        if self.acc:
            return self.acc
        log_mw = (self.mw - 1).bit_length()
        return self.a_bits + (self.exps if self.pot else self.w_bits) + log_mw

    @property
    def dot_stages(self) -> int:
        """Registers in a PE's adder tree: after every `pipe`-th level but the last."""
        levels = (self.simd - 1).bit_length()
        return (levels - 1) // self.pipe if self.pipe and levels > 1 else 0

    @property
    def latency(self) -> int:
        """Cycles from a vector's last input beat to its first output beat (see the HDL)."""
        base = THRESHOLD_LATENCY + bool(self.pipe) if self.t_bits else LATENCY
        return base + self.dot_stages

    @property
    def out_bits(self) -> int:
        return self.t_bits or self.acc_bits

    @property
    def in_width(self) -> int:
        return self.simd * self.a_bits

    @property
    def out_width(self) -> int:
        return self.pe * self.out_bits

    def params(self) -> dict[str, int]:
        optional = {"ACC_BITS": self.acc, "PIPE": self.pipe}  # 0: the HDL's default
        return {**{k: v for k, v in optional.items() if v},
            "MW": self.mw, "MH": self.mh, "PE": self.pe, "SIMD": self.simd,
            "A_BITS": self.a_bits, "POT": int(self.pot), "W_BITS": self.w_bits,
            "POT_EXPS": self.exps, "T_BITS": self.t_bits, "CHAIN": int(self.chain),
            "PIN": int(self.pin)}


# -- reference model ----------------------------------------------------------------------


def wrap(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap-around to `bits` bits, as a hardware register holds it."""
    half = 1 << (bits - 1)
    return (values + half) % (1 << bits) - half


def reference(
    weights: np.ndarray, thresholds: np.ndarray | None, inputs: np.ndarray,
    acc_bits: int | None = None,
) -> np.ndarray:
    """The unit's outputs (N x MH) for integer weights (MH x MW) and inputs (N x MW).

    Without thresholds: the accumulator W·x (wrapped to `acc_bits` if given). With
    thresholds (MH x 2^T-1): per channel, how many thresholds t satisfy acc >= t.
    """
    acc = np.asarray(inputs, dtype=np.int64) @ np.asarray(weights, dtype=np.int64).T
    if acc_bits is not None:
        acc = wrap(acc, acc_bits)
    if thresholds is None:
        return acc
    thr = np.asarray(thresholds, dtype=np.int64)
    return (acc[:, :, None] >= thr[None, :, :]).sum(axis=-1)


# -- what the PoT accumulator leaves out -----------------------------------------------------


def negative_counts(weights: np.ndarray, cfg: MvuConfig) -> np.ndarray:
    """Per channel (MH), how far the unit's accumulator falls short of W·x when it
    starts at 0: pot adds a negative weight's term as its ones' complement, -|w|·x - 1,
    so channel c ends at W·x - n_c with n_c its count of negative weights (the sign bits
    of its codes); int is exact."""
    w = np.asarray(weights, dtype=np.int64)
    if not cfg.pot:
        return np.zeros(len(w), dtype=np.int64)
    return (w < 0).sum(axis=1)


def accumulator_range(weights: np.ndarray, a_bits: int, datapath: Datapath
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, the least and the greatest value the accumulator of a unit with
    thresholds (which starts at 0) takes over all unsigned `a_bits`-bit inputs."""
    w = np.asarray(weights, dtype=np.int64)
    top = (1 << a_bits) - 1
    short = (w < 0).sum(axis=1) if datapath == "pot" else 0
    return (top * np.minimum(w, 0).sum(axis=1) - short,
            top * np.maximum(w, 0).sum(axis=1) - short)


def signed_bits(lo: int, hi: int) -> int:
    """The fewest two's-complement bits (at least 2) holding every integer in [lo, hi]."""
    bits = 2
    while lo < -(1 << (bits - 1)) or hi > (1 << (bits - 1)) - 1:
        bits += 1
    return bits


def accumulator_bits(weights: np.ndarray, a_bits: int, datapath: Datapath) -> int:
    """Accumulator bits a unit with thresholds needs for these weights (MH x MW). For
    pot that can be a bit more than W·x needs (FINN's accumulator type): the register
    goes down to W·x - n_c."""
    lo, hi = accumulator_range(weights, a_bits, datapath)
    return signed_bits(int(lo.min()), int(hi.max()))


def stored_thresholds(thresholds: np.ndarray, weights: np.ndarray, cfg: MvuConfig
                      ) -> np.ndarray:
    """The thresholds (MH x 2^T-1) as the unit holds them: t - n_c for channel c (see
    `negative_counts`: acc - n_c >= t - n_c exactly when acc >= t), clamped into
    ACC bits.

    The clamp is exact, or this raises: the accumulator register must hold each value
    it can take for these weights (then a threshold raised to its least value is still
    met by every accumulator), and one lowered to its greatest value must stay out of
    reach. The HDL's default width holds every value (for pot, |W·x| <= MW·(2^A-1)·
    2^(exps-1) leaves room for the n_c <= MW below it); a narrower one (FINN's) must be
    chosen with `accumulator_bits`.
    """
    thr = _threshold_array(thresholds, cfg)
    lo, hi = accumulator_range(weights, cfg.a_bits, cfg.datapath)
    half = 1 << (cfg.acc_bits - 1)
    if lo.min() < -half or hi.max() > half - 1:
        need = signed_bits(int(lo.min()), int(hi.max()))
        raise ValueError(f"the accumulator takes values in [{lo.min()}, {hi.max()}] for "
                         f"these weights: {cfg.acc_bits} bits cannot hold them, {need} can")
    thr = thr - negative_counts(weights, cfg)[:, None]
    if ((thr > half - 1) & (hi[:, None] >= half - 1)).any():
        raise ValueError(f"a threshold above the {cfg.acc_bits}-bit range would be reached "
                         "once clamped into it; widen the accumulator by a bit")
    return np.clip(thr, -half, half - 1)


# -- weight codes and memory files ----------------------------------------------------------


def pot_encode(weights: np.ndarray, w_bits: int, exps: int | None = None) -> np.ndarray:
    """PoT codes (sign | code << 1) of integer weights in {0} ∪ {±2^k : k < r}: code k
    for ±2^k, code r for 0 (sign clear). r = `exps`, by default the n-bit quantizer's."""
    w = np.asarray(weights, dtype=np.int64)
    r = exps or pot_exponents(w_bits)
    mag = np.abs(w)
    k = np.zeros_like(mag)
    nonzero = mag > 0
    k[nonzero] = np.log2(mag[nonzero]).round().astype(np.int64)
    bad = nonzero & ((np.left_shift(1, k, where=nonzero, out=np.zeros_like(k)) != mag)
                     | (k >= r))
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        which = f"POT_EXPS={exps}" if exps else f"{w_bits}-bit PoT"
        raise ValueError(f"weight {int(w[at])} at {at} is not 0 or ±2^k with k < {r} "
                         f"({which})")
    return np.where(nonzero, (w < 0).astype(np.int64) | (k << 1), r << 1)


def weight_codes(weights: np.ndarray, cfg: MvuConfig) -> np.ndarray:
    """Each weight as its `cfg.code_bits`-bit field in the weight memory."""
    w = np.asarray(weights, dtype=np.int64)
    if w.shape != (cfg.mh, cfg.mw):
        raise ValueError(f"weights must be MH x MW = {cfg.mh} x {cfg.mw}, got {w.shape}")
    if cfg.pot:
        return pot_encode(w, cfg.w_bits, cfg.pot_exps or None)
    lo, hi = -(1 << (cfg.w_bits - 1)), (1 << (cfg.w_bits - 1)) - 1
    if w.min() < lo or w.max() > hi:
        raise ValueError(f"int weights must lie in [{lo}, {hi}] for W{cfg.w_bits}, got "
                         f"[{w.min()}, {w.max()}]")
    return w & ((1 << cfg.w_bits) - 1)


def _pack(fields: np.ndarray, bits: int) -> int:
    """Fields (last axis first = least significant) concatenated into one integer."""
    word = 0
    for value in reversed(np.asarray(fields).reshape(-1).tolist()):
        word = (word << bits) | int(value)
    return word


def pack_weights(weights: np.ndarray, cfg: MvuConfig) -> list[int]:
    """Weight memory words: address nf*SF + sf holds weight (pe, s) = W[nf*PE + pe,
    sf*SIMD + s] at bit (pe*SIMD + s) * code_bits."""
    codes = weight_codes(weights, cfg).reshape(cfg.nf, cfg.pe, cfg.sf, cfg.simd)
    return [_pack(codes[nf, :, sf, :], cfg.code_bits)
            for nf in range(cfg.nf) for sf in range(cfg.sf)]


def _threshold_array(thresholds: np.ndarray, cfg: MvuConfig) -> np.ndarray:
    n = (1 << cfg.t_bits) - 1
    thr = np.asarray(thresholds, dtype=np.int64)
    if cfg.t_bits == 0 or thr.shape != (cfg.mh, n):
        raise ValueError(f"thresholds must be MH x (2^T-1) = {cfg.mh} x {n} for "
                         f"T={cfg.t_bits}, got {thr.shape}")
    return thr


def pack_thresholds(thresholds: np.ndarray, cfg: MvuConfig) -> list[int]:
    """Threshold memory words: address nf holds threshold j of channel nf*PE + pe at bit
    (pe*(2^T-1) + j) * acc_bits, two's complement, clamped to that range.

    These are the values the unit compares its accumulator with; `stored_thresholds`
    turns the mathematical thresholds into them (and makes sure the clamp is exact).
    """
    thr = _threshold_array(thresholds, cfg)
    half = 1 << (cfg.acc_bits - 1)
    thr = np.clip(thr, -half, half - 1) & ((1 << cfg.acc_bits) - 1)
    thr = thr.reshape(cfg.nf, cfg.pe, -1)
    return [_pack(thr[nf], cfg.acc_bits) for nf in range(cfg.nf)]


def pack_init(weights: np.ndarray, cfg: MvuConfig) -> list[int]:
    """Start-value memory words (pot without thresholds): address nf holds the count of
    negative weights of channel nf*PE + pe at bit pe * init_bits, modulo 2^init_bits."""
    counts = negative_counts(weights, cfg) & ((1 << cfg.init_bits) - 1)
    counts = counts.reshape(cfg.nf, cfg.pe)
    return [_pack(counts[nf], cfg.init_bits) for nf in range(cfg.nf)]


def write_hex(path: Path, words: list[int], width: int) -> Path:
    """One hex word per line, as `$readmemh` reads it."""
    digits = (width + 3) // 4
    path.write_text("".join(f"{w:0{digits}x}\n" for w in words))
    return path


def write_memories(
    cfg: MvuConfig, weights: np.ndarray, thresholds: np.ndarray | None, directory: Path,
) -> list[Path]:
    """The unit's memory files in `directory`, under the names the HDL reads by default."""
    directory.mkdir(parents=True, exist_ok=True)
    word = cfg.pe * cfg.simd * cfg.code_bits
    files = [write_hex(directory / WEIGHT_FILE, pack_weights(weights, cfg), word)]
    if cfg.t_bits:
        if thresholds is None:
            raise ValueError(f"T={cfg.t_bits} needs thresholds")
        n = (1 << cfg.t_bits) - 1
        stored = stored_thresholds(thresholds, weights, cfg)
        files.append(write_hex(directory / THRESH_FILE, pack_thresholds(stored, cfg),
                               cfg.pe * n * cfg.acc_bits))
    if cfg.has_init:
        files.append(write_hex(directory / INIT_FILE, pack_init(weights, cfg),
                               cfg.pe * cfg.init_bits))
    return files


# -- streams ---------------------------------------------------------------------------------


def pack_inputs(inputs: np.ndarray, cfg: MvuConfig) -> list[int]:
    """Input beats: SF per vector, beat sf holds x[sf*SIMD + s] at bit s * a_bits."""
    x = np.asarray(inputs, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != cfg.mw:
        raise ValueError(f"inputs must be N x MW = N x {cfg.mw}, got {x.shape}")
    if x.min() < 0 or x.max() >= 1 << cfg.a_bits:
        raise ValueError(f"inputs must be unsigned {cfg.a_bits}-bit integers")
    beats = x.reshape(len(x) * cfg.sf, cfg.simd)
    return [_pack(beat, cfg.a_bits) for beat in beats]


def unpack_outputs(words: list[int], cfg: MvuConfig) -> np.ndarray:
    """Output beats back into vectors (N x MH); accumulators are signed, counts not."""
    mask = (1 << cfg.out_bits) - 1
    fields = np.array([[(w >> (p * cfg.out_bits)) & mask for p in range(cfg.pe)]
                       for w in words], dtype=np.int64).reshape(-1, cfg.mh)
    return fields if cfg.t_bits else wrap(fields, cfg.out_bits)


# -- simulation --------------------------------------------------------------------------------


@dataclass
class UnitSim:
    """A simulation checked against the reference model."""

    ok: bool  # every output element equal, none missing, no stall
    mismatches: int  # output elements that differ or are missing
    outputs: np.ndarray  # N x MH as simulated (missing vectors absent)
    expected: np.ndarray
    cycles_per_vector: float | None  # steady state, from consecutive vectors' last beats
    latency: int | None  # vector 0: first output beat minus its last input beat
    sim: verilator.SimResult


def run_unit(
    cfg: MvuConfig, inputs: np.ndarray, expected: np.ndarray, run_dir: Path,
    cache_dir: Path | None = None, stall_percent: int = 0,
) -> UnitSim:
    """Stream `inputs` through the unit with the memory files already in `run_dir`
    (`stall_percent`: seeded random backpressure on its output)."""
    n = len(inputs)
    sim = verilator.simulate(
        sources(), TOP, pack_inputs(inputs, cfg), cfg.in_width, cfg.out_width,
        n * cfg.nf, run_dir, cache_dir, cfg.params(), stall_percent=stall_percent)
    whole = len(sim.outputs) // cfg.nf * cfg.nf
    got = unpack_outputs(sim.outputs[:whole], cfg)
    mismatches = int((got != expected[:len(got)]).sum()) + (n - len(got)) * cfg.mh
    lasts = [sim.output_cycles[(i + 1) * cfg.nf - 1] for i in range(len(got))]
    per_vector = (lasts[-1] - lasts[0]) / (len(lasts) - 1) if len(lasts) > 1 else None
    latency = (sim.output_cycles[0] - sim.input_cycles[cfg.sf - 1]
               if sim.output_cycles and len(sim.input_cycles) >= cfg.sf else None)
    return UnitSim(ok=mismatches == 0 and not sim.timed_out, mismatches=mismatches,
                   outputs=got, expected=expected, cycles_per_vector=per_vector,
                   latency=latency, sim=sim)


# -- random instances and synthesis --------------------------------------------------------------


def random_weights(mh: int, mw: int, w_bits: int, datapath: Datapath,
                   rng: np.random.Generator) -> np.ndarray:
    """Uniform over the datapath's weight values: all W-bit integers, or 0 and ±2^k."""
    if datapath == "pot":
        r = pot_exponents(w_bits)
        levels = np.array([0] + [s * 2**k for k in range(r) for s in (1, -1)])
        return rng.choice(levels, size=(mh, mw))
    return rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), size=(mh, mw))


def random_thresholds(mh: int, t_bits: int, lo: int, hi: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Sorted thresholds per channel, drawn from [lo, hi]."""
    return np.sort(rng.integers(lo, hi + 1, size=(mh, (1 << t_bits) - 1)), axis=1)


def prepare_unit(cfg: MvuConfig, work_dir: Path, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """Copies of the unit's sources in `work_dir/hdl` and memory files of random weights
    (and thresholds) of its kind in `work_dir`, where the HDL reads them: the one
    instance every synthesis of a configuration measures, whichever the recipe."""
    rng = np.random.default_rng(seed)
    hdl = work_dir / "hdl"
    hdl.mkdir(parents=True, exist_ok=True)
    copies = [Path(shutil.copy(src, hdl / src.name)) for src in sources()]
    half = 1 << (cfg.acc_bits - 2)
    thresholds = (random_thresholds(cfg.mh, cfg.t_bits, -half, half, rng)
                  if cfg.t_bits else None)
    weights = random_weights(cfg.mh, cfg.mw, cfg.w_bits, cfg.datapath, rng)
    return copies, write_memories(cfg, weights, thresholds, work_dir)


def synthesize_unit(
    mw: int, mh: int, pe: int, simd: int, a_bits: int, w_bits: int, datapath: Datapath,
    work_dir: Path, family: str = "xc7", t_bits: int = 0, chain: bool = False,
    pin: bool = True, dsp: bool = True, seed: int = 0,
) -> yosys.SynthResult:
    """`synthesize_config` of the unit with these parameters."""
    cfg = MvuConfig(mw, mh, pe, simd, a_bits, w_bits, datapath, t_bits, chain, pin)
    return synthesize_config(cfg, work_dir, family, dsp, seed)


def synthesize_config(cfg: MvuConfig, work_dir: Path, family: str = "xc7", dsp: bool = True,
                      seed: int = 0) -> yosys.SynthResult:
    """Yosys resources of one unit holding random weights (and thresholds) of its kind; the
    memories are writable, so the numbers are the datapath's, not of one weight matrix."""
    work_dir = work_dir.resolve()
    copies, _ = prepare_unit(cfg, work_dir, seed)
    return yosys.synthesize(copies, TOP, work_dir, family, params=cfg.params(), dsp=dsp)
