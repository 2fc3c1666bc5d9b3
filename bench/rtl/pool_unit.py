"""The max pooling unit in `hdl/` from Python: reference model, streams, bit-exact
simulation and synthesis.

The unit (`qnnbench_maxpool`) takes the place of FINN's `Pool` node (Function "MaxPool"),
which has no RTL variant in FINN, so that convolutional networks (CNV, LeNet-5) can be
stitched and measured in RTL. FINN feeds that node from a depthwise sliding-window
generator; `pack_inputs` produces exactly that generator's stream from an image, and the
reference model pools the image directly (non-overlapping K x K maxima over NHWC),
knowing nothing of the stream order, so a simulation checks the order as well as the
arithmetic.

Nothing here imports FINN: the unit is verified and measured on its own before it is
wrapped as a FINN layer.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.rtl import verilator, yosys

HDL_DIR = Path(__file__).parent / "hdl"
TOP = "qnnbench_maxpool"
SOURCES = ("qnnbench_maxpool.sv",)
# Cycles from a window's last input beat to its output beat (see qnnbench_maxpool.sv).
LATENCY = 1


def sources() -> list[Path]:
    """The unit's SystemVerilog files, in compilation order."""
    return [HDL_DIR / name for name in SOURCES]


@dataclass(frozen=True)
class PoolConfig:
    """One pooling layer as FINN's Pool node describes it (square kernel and image, as in
    every network here); `params()` are the unit's HDL parameters, which need only the
    lane count, the element type and the window size."""

    channels: int  # Channels
    pe: int  # PE: channels per beat (the preceding generator's SIMD)
    kernel: int  # KernelSize k: k x k windows, stride k
    out_dim: int  # OutImgDims: the pooled image is out_dim x out_dim
    bits: int  # element bits of InputDataType (= OutputDataType for MaxPool)
    signed: bool = False

    def __post_init__(self) -> None:
        if min(self.channels, self.pe, self.kernel, self.out_dim, self.bits) < 1:
            raise ValueError(f"every size must be at least 1, got {self}")
        if self.channels % self.pe:
            raise ValueError(f"PE={self.pe} must divide Channels={self.channels}")
        if self.signed and self.bits < 2:
            raise ValueError("a signed element needs at least 2 bits")

    @property
    def fold(self) -> int:
        """Beats per pixel and window position: Channels / PE."""
        return self.channels // self.pe

    @property
    def window(self) -> int:
        return self.kernel * self.kernel

    @property
    def in_dim(self) -> int:
        """The pooled part of the input image (a larger image's extra rows and columns
        are dropped by the generator, as by floor-mode pooling)."""
        return self.out_dim * self.kernel

    @property
    def width(self) -> int:
        """Bits of a stream word, in and out."""
        return self.pe * self.bits

    @property
    def in_beats(self) -> int:
        """Input beats per image, and so the unit's cycles per image at full rate."""
        return self.out_dim * self.out_dim * self.fold * self.window

    @property
    def out_beats(self) -> int:
        return self.out_dim * self.out_dim * self.fold

    @property
    def value_range(self) -> tuple[int, int]:
        if self.signed:
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    def params(self) -> dict[str, int]:
        return {"PE": self.pe, "BITS": self.bits, "SIGNED": int(self.signed),
                "WINDOW": self.window}


# -- reference model ----------------------------------------------------------------------


def reference(images: np.ndarray, kernel: int) -> np.ndarray:
    """Non-overlapping kernel x kernel maxima of NHWC images (N x H x W x C), rows and
    columns beyond the last whole window dropped: what max pooling computes, whatever
    order a stream carries the pixels in."""
    x = np.asarray(images, dtype=np.int64)
    n, h, w, c = x.shape
    oh, ow = h // kernel, w // kernel
    blocks = x[:, :oh * kernel, :ow * kernel].reshape(n, oh, kernel, ow, kernel, c)
    return blocks.max(axis=(2, 4))


def windows(images: np.ndarray, cfg: PoolConfig) -> np.ndarray:
    """Each output pixel's window, N x OH x OW x K x K x C, the window stride = kernel."""
    x = np.asarray(images, dtype=np.int64)
    if x.ndim != 4 or x.shape[3] != cfg.channels or min(x.shape[1:3]) < cfg.in_dim:
        raise ValueError(f"images must be N x H x W x {cfg.channels} with H, W >= "
                         f"{cfg.in_dim}, got {x.shape}")
    k, o = cfg.kernel, cfg.out_dim
    blocks = x[:, :o * k, :o * k].reshape(len(x), o, k, o, k, cfg.channels)
    return blocks.transpose(0, 1, 3, 2, 4, 5)


def im2col(images: np.ndarray, cfg: PoolConfig) -> np.ndarray:
    """The Pool node's input tensor in FINN's Python execution: N x OH x OW x (K*K*C),
    per pixel the window positions outermost and the channels innermost."""
    w = windows(images, cfg)
    return w.reshape(len(w), cfg.out_dim, cfg.out_dim, cfg.window * cfg.channels)


# -- streams ------------------------------------------------------------------------------


def _pack(fields: np.ndarray, bits: int) -> list[int]:
    """Rows of fields as words, field 0 in the least-significant bits."""
    mask = (1 << bits) - 1
    words = []
    for row in np.asarray(fields, dtype=np.int64).tolist():
        word = 0
        for value in reversed(row):
            word = (word << bits) | (value & mask)
        words.append(word)
    return words


def pack_inputs(images: np.ndarray, cfg: PoolConfig) -> list[int]:
    """The depthwise sliding-window generator's stream of NHWC images: per output pixel,
    the channel folds outermost, then the K x K window positions, PE channels a beat."""
    w = windows(images, cfg)
    lo, hi = cfg.value_range
    if w.min() < lo or w.max() > hi:
        raise ValueError(f"elements must lie in [{lo}, {hi}] for {cfg.bits}-bit "
                         f"{'signed' if cfg.signed else 'unsigned'} inputs")
    o, k, f = cfg.out_dim, cfg.kernel, cfg.fold
    folded = w.reshape(len(w), o, o, k, k, f, cfg.pe).transpose(0, 1, 2, 5, 3, 4, 6)
    return _pack(folded.reshape(-1, cfg.pe), cfg.bits)


def pack_outputs(pooled: np.ndarray, cfg: PoolConfig) -> list[int]:
    """FINN's Pool output stream of pooled NHWC images: per pixel, C/PE beats of PE
    channels."""
    return _pack(np.asarray(pooled).reshape(-1, cfg.pe), cfg.bits)


def unpack_outputs(words: list[int], cfg: PoolConfig) -> np.ndarray:
    """Output beats back into pooled NHWC images (N x OH x OW x C)."""
    mask = (1 << cfg.bits) - 1
    fields = np.array([[(w >> (p * cfg.bits)) & mask for p in range(cfg.pe)]
                       for w in words], dtype=np.int64).reshape(-1, cfg.pe)
    if cfg.signed:
        half = 1 << (cfg.bits - 1)
        fields = (fields + half) % (1 << cfg.bits) - half
    return fields.reshape(-1, cfg.out_dim, cfg.out_dim, cfg.channels)


def random_images(cfg: PoolConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform elements over the datatype, with the extremes forced in: image 0 all the
    minimum except one maximum per window (the maximum's position varies), so that a
    wrong comparison or window position shows."""
    lo, hi = cfg.value_range
    shape = (n, cfg.in_dim, cfg.in_dim, cfg.channels)
    x = rng.integers(lo, hi + 1, size=shape)
    x[0] = lo
    k = cfg.kernel
    for i in range(cfg.out_dim):
        for j in range(cfg.out_dim):
            pos = (i * cfg.out_dim + j) % cfg.window
            x[0, i * k + pos // k, j * k + pos % k, :] = hi
    return x


# -- simulation ---------------------------------------------------------------------------


@dataclass
class PoolSim:
    """A simulation checked against the reference model."""

    ok: bool  # every output element equal, none missing, no stall
    mismatches: int  # output elements that differ or are missing
    outputs: np.ndarray  # pooled images as simulated (missing images absent)
    expected: np.ndarray
    cycles_per_image: float | None  # steady state, from consecutive images' last beats
    latency: int | None  # first output beat minus the first window's last input beat
    sim: verilator.SimResult


def simulate_unit(
    cfg: PoolConfig, images: np.ndarray, run_dir: Path, cache_dir: Path | None = None,
    stall_percent: int = 0, seed: int = 0,
) -> PoolSim:
    """Stream NHWC `images` through the unit (`stall_percent`: seeded random backpressure
    on its output) and compare every element with `reference`."""
    n = len(images)
    expected = reference(np.asarray(images)[:, :cfg.in_dim, :cfg.in_dim], cfg.kernel)
    sim = verilator.simulate(
        sources(), TOP, pack_inputs(images, cfg), cfg.width, cfg.width, n * cfg.out_beats,
        run_dir, cache_dir, cfg.params(), stall_percent=stall_percent, seed=seed)
    whole = len(sim.outputs) // cfg.out_beats * cfg.out_beats
    got = unpack_outputs(sim.outputs[:whole], cfg)
    missing = (n - len(got)) * cfg.out_beats * cfg.pe
    mismatches = int((got != expected[:len(got)]).sum()) + missing
    lasts = [sim.output_cycles[(i + 1) * cfg.out_beats - 1] for i in range(len(got))]
    per_image = (lasts[-1] - lasts[0]) / (len(lasts) - 1) if len(lasts) > 1 else None
    latency = (sim.output_cycles[0] - sim.input_cycles[cfg.window - 1]
               if sim.output_cycles and len(sim.input_cycles) >= cfg.window else None)
    return PoolSim(ok=mismatches == 0 and not sim.timed_out, mismatches=mismatches,
                   outputs=got, expected=expected, cycles_per_image=per_image,
                   latency=latency, sim=sim)


# -- synthesis ----------------------------------------------------------------------------


def synthesize_unit(cfg: PoolConfig, work_dir: Path, family: str = "xc7"
                    ) -> yosys.SynthResult:
    """Yosys resources of one unit; the image size does not change the hardware."""
    work_dir = work_dir.resolve()
    hdl = work_dir / "hdl"
    hdl.mkdir(parents=True, exist_ok=True)
    copies = [Path(shutil.copy(src, hdl / src.name)) for src in sources()]
    return yosys.synthesize(copies, TOP, work_dir, family, params=cfg.params())
