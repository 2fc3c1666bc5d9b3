"""FIFO depths from simulation: how deep each FIFO between two layers has to be.

A FIFO lets a layer hand over its output while the next one is still busy (our unit reads
no input during its folds 1..NF-1), so too shallow a FIFO stalls the layer before it and
the design runs slower than its slowest layer; too deep a FIFO only costs memory. FINN
sizes them by simulating the stitched design with very deep FIFOs and keeping each one's
peak occupancy; that needs Vivado's simulator. Here the same run is a Verilator
simulation in which every FIFO is FINN's own simulation gauge (unbounded and always
ready, so no layer ever waits on one), with the images arriving at the rate the
unbounded design sustains: the peak a gauge reaches is the depth at which that FIFO
never stalls its producer in this run (capped at one image, see `depths_from_peaks`).
The sized design is simulated again to confirm that it reaches the unbounded design's
throughput, and FIFOs that were full when it did not are made deeper (`deepen`); once it
does, the memory-backed FIFOs are tried at the minimum depth (`shallow_trial`) and kept
there if the rate holds.

Depths are rounded to what FINN's FIFO (`fifo.sv`) builds anyway:
- up to 33 words it is a shift register with an output register, one SRL per data bit
  (SRLC32E) whatever the depth, so small depths are kept as they are, but at least
  `MIN_DEPTH`: FINN's `InsertFIFO` leaves out FIFOs of depth 2 or less;
- deeper, it is a memory of a power of two words (LUT RAM, then block RAM) plus the
  output register, so a depth rounds up to the next 2^k + 1.
"""

from __future__ import annotations

MIN_DEPTH = 3  # fifo.sv builds depths up to 5 from the same 4-stage shift register
SHIFT_REGISTER_MAX_DEPTH = 33  # deeper: a 2^k-word memory plus the output register


def implementable_depth(words: int) -> int:
    """The depth to ask for so that the FIFO holds `words`, rounded up to a size that
    `fifo.sv` implements without unused memory."""
    depth = max(int(words), MIN_DEPTH)
    if depth <= SHIFT_REGISTER_MAX_DEPTH:
        return depth
    return 2 ** (depth - 2).bit_length() + 1


def depths_from_peaks(peaks: dict[str, int], limits: dict[str, int] | None = None
                      ) -> dict[str, int]:
    """Each FIFO's depth from its peak occupancy in the unbounded simulation, at most its
    `limits` entry (one image of the producer's output: an unbounded FIFO behind a
    producer that is faster on average than its consumer, such as the network's input,
    grows with every image simulated; holding more than an image only lets the producer
    run further ahead, which the confirmation run checks)."""
    limits = limits or {}
    return {name: implementable_depth(min(peak, limits.get(name, peak)))
            for name, peak in peaks.items()}


def shallow_trial(depths: dict[str, int]) -> dict[str, int] | None:
    """The depths with every memory-backed FIFO (deeper than a shift register) at the
    minimum, to try once the sized design is confirmed: such a FIFO costs LUT RAM or
    block RAM, and where its producer only runs ahead of a slower consumer the design is
    as fast without the depth. None when there is no such FIFO."""
    deep = [name for name, d in depths.items() if d > SHIFT_REGISTER_MAX_DEPTH]
    if not deep:
        return None
    return {**depths, **dict.fromkeys(deep, MIN_DEPTH)}


def deepen(depths: dict[str, int], full: set[str]) -> dict[str, int]:
    """The next depths to try when the sized design ran slower than the unbounded one:
    the FIFOs that were full (or all, if none was) twice as deep."""
    grow = full or set(depths)
    return {name: implementable_depth(2 * d) if name in grow else d
            for name, d in depths.items()}


def storage_bits(depths: dict[str, int], widths: dict[str, int]) -> int:
    """Words times width, summed over the FIFOs: the storage they ask for."""
    return sum(depth * widths[name] for name, depth in depths.items())
