"""Cycles per image once the streams between layers are counted, without FINN.

FINN's cycle model gives each layer its own folds (input folds x output folds) as if its
input always arrived at the rate it reads it. Between two matrix-vector layers that is not
so when the consumer reads wider words than the producer writes (SIMD > the producer's
PE): a width converter assembles each word from `upsize` = SIMD / PE narrow beats, one per
cycle. A matrix-vector unit reads its input vector only in its first output fold and
replays it from a buffer in the others, so in that first fold it waits on the converter,
which holds at most one finished word ready (the one it assembled during the previous
vector's later folds). Measured in our stitched Verilator simulations, a layer's interval
per input vector is then

    input folds x output folds + (upsize - 1) x (input folds - 1)

(TFC 64-8-8-64 into PE 5 / SIMD 16: 11 cycles, not FINN's 8; SFC PE 2 into PE 5 / SIMD 4:
191, not 128). FIFOs do not help: they sit in front of the converter. The search uses
this so that it does not pick a folding whose last layer is fast only on paper, and the
record carries it as `cal_max_cycles` / `cal_fps` beside FINN's `est_*`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.core.op_kinds import base_op

# Layers whose output stream carries PE elements per word (so a consumer with a wider
# SIMD sits behind an upsizing converter), and layers that read their input vector once,
# in the first of their output folds (FINN's MVAUs and our unit, which `base_op` names
# an MVAU).
PE_STREAM_BASES = ("MVAU", "VVAU", "Thresholding")
FIRST_FOLD_READERS = ("MVAU",)


@dataclass(frozen=True)
class LayerRate:
    """What the stall depends on: the layer's own cycles, input folds (SIMD dimension /
    SIMD), output folds (PE dimension / PE) and input width."""

    cycles: int
    in_folds: int
    out_folds: int
    simd: int


def converter_stall(rate: LayerRate, producer_pe: int | None) -> int:
    """Cycles per image the layer loses waiting on an upsizing width converter."""
    if not producer_pe or rate.simd <= producer_pe or rate.in_folds < 2:
        return 0
    upsize = rate.simd / producer_pe
    vectors = max(1, rate.cycles // max(1, rate.in_folds * rate.out_folds))
    return math.ceil(vectors * (upsize - 1) * (rate.in_folds - 1))


def stream_cycles(rate: LayerRate, producer_pe: int | None) -> int:
    """The layer's cycles per image behind its producer's stream."""
    return rate.cycles + converter_stall(rate, producer_pe)


def feeds(ops: list[tuple[str, str, str | None]]) -> dict[str, str]:
    """Consumer -> producer, for every first-fold reader fed directly by a PE-stream
    layer. `ops` lists (name, op_type, the producer of its data input) in graph order."""
    kinds = {name: base_op(op_type) for name, op_type, _ in ops}
    return {name: producer for name, op_type, producer in ops
            if kinds[name] in FIRST_FOLD_READERS and kinds.get(producer) in PE_STREAM_BASES}
