"""Test-only helpers around our matrix-vector unit: the inverse of its PoT encoding and a
one-call simulation against the integer reference. The harness itself never needs them
(it encodes weights and simulates through FINN's graph), so they live with the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.rtl.mvu_unit import (
    Datapath,
    MvuConfig,
    UnitSim,
    reference,
    run_unit,
    write_memories,
)


def pot_decode(codes: np.ndarray, exps: int) -> np.ndarray:
    """Integer weights of PoT codes with exponents 0..exps-1 (the inverse of
    `bench.rtl.mvu_unit.pot_encode`): sign in bit 0, exponent code above it, codes from
    `exps` up are zero."""
    c = np.asarray(codes, dtype=np.int64)
    k = c >> 1
    value = np.left_shift(1, np.minimum(k, exps)) * np.where(c & 1, -1, 1)
    return np.where(k >= exps, 0, value)


def simulate_unit(
    weights: np.ndarray, thresholds: np.ndarray | None, inputs: np.ndarray, pe: int,
    simd: int, a_bits: int, w_bits: int, datapath: Datapath, work_dir: Path,
    chain: bool = False, cache_dir: Path | None = None, stall_percent: int = 0,
    pot_exps: int = 0, pipe: int = 0,
) -> UnitSim:
    """Simulate the unit holding `weights` (and `thresholds`) on `inputs`; every output
    element is compared with the integer reference."""
    mh, mw = np.asarray(weights).shape
    t_bits = 0 if thresholds is None else int(np.log2(np.asarray(thresholds).shape[1] + 1))
    cfg = MvuConfig(mw, mh, pe, simd, a_bits, w_bits, datapath, t_bits, chain,
                    pot_exps=pot_exps, pipe=pipe)
    write_memories(cfg, weights, thresholds, work_dir)
    expected = reference(weights, thresholds, inputs, cfg.acc_bits)
    return run_unit(cfg, inputs, expected, work_dir, cache_dir, stall_percent)
