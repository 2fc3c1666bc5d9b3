"""The unit's power-of-two datapath: the weight code (sign + exponent code, one code for
zero) and the per-channel correction its ones'-complement terms need, folded into the
memory contents (thresholds lowered by the channel's count of negative weights, or the
accumulator started at it).

First without tools: the encoding by hand, and a bit-level model of the HDL that reads
the memory files back, against the mathematical reference. Then the HDL in Verilator on
the cases a wrong correction would get wrong: rows of only negative weights, rows of
none, several POT_EXPS (powers of two among them), with and without thresholds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.rtl import mvu_unit as mu
from bench.rtl.mvu_unit import MvuConfig
from tests.unit_harness import pot_decode, simulate_unit


def pot_levels(exps: int) -> np.ndarray:
    return np.array([0] + [s * 2**k for k in range(exps) for s in (1, -1)])


# -- the code --------------------------------------------------------------------------------


@pytest.mark.parametrize("exps", range(1, 17))
def test_code_width_is_a_sign_bit_and_an_exponent_code_with_room_for_zero(exps):
    cfg = MvuConfig(2, 2, 1, 1, 2, 4, "pot", pot_exps=exps)
    assert cfg.code_bits == 1 + int(np.ceil(np.log2(exps + 1)))
    with_zero_flag = 2 + max(1, int(np.ceil(np.log2(exps))))
    # never wider than sign + zero flag + exponent; as wide only for exps = 2, 4, 8, ...
    power_of_two = exps > 1 and exps & (exps - 1) == 0
    assert cfg.code_bits == with_zero_flag - (0 if power_of_two else 1)


@pytest.mark.parametrize("exps", [1, 2, 3, 4, 7, 8])
def test_codes_round_trip_and_zero_is_the_code_past_the_exponents(exps):
    levels = pot_levels(exps)
    codes = mu.pot_encode(levels, 4, exps)
    assert np.array_equal(pot_decode(codes, exps), levels)
    assert codes[0] == exps << 1  # zero: code = exps, sign clear
    assert np.array_equal(codes[1::2], np.arange(exps) << 1)  # +2^k: code k
    assert np.array_equal(codes[2::2], np.arange(exps) << 1 | 1)  # -2^k: sign set
    assert codes.max() < 1 << MvuConfig(2, 2, 1, 1, 2, 4, "pot", pot_exps=exps).code_bits


def test_exponents_beyond_pot_exps_are_refused():
    with pytest.raises(ValueError, match=r"weight -4 at \(0, 1\) is not 0 or ±2\^k with "
                                         r"k < 2 \(POT_EXPS=2\)"):
        mu.pot_encode(np.array([[2, -4]]), 4, 2)


# -- the correction, by hand -------------------------------------------------------------------


def test_negative_counts_are_per_channel_and_zero_for_int():
    w = np.array([[-1, -2, 4, 0], [1, 2, 0, 4], [-4, -4, -1, -1]])
    assert mu.negative_counts(w, MvuConfig(4, 3, 1, 4, 2, 3, "pot")).tolist() == [2, 0, 4]
    assert mu.negative_counts(w, MvuConfig(4, 3, 1, 4, 2, 4, "int")).tolist() == [0, 0, 0]


def test_thresholds_are_stored_lowered_by_the_count():
    w = np.array([[-1, -2, 4, 0], [1, 2, 0, 4]])
    cfg = MvuConfig(4, 2, 1, 4, 2, 3, "pot", t_bits=1)
    thr = np.array([[5], [-3]])
    assert mu.stored_thresholds(thr, w, cfg).tolist() == [[3], [-3]]
    # and int thresholds are stored as they are
    cfg_int = MvuConfig(4, 2, 1, 4, 2, 4, "int", t_bits=1)
    assert mu.stored_thresholds(thr, w, cfg_int).tolist() == [[5], [-3]]


def test_start_values_are_the_counts_in_their_layout():
    # MH=4, PE=2: address nf holds channels 2nf, 2nf+1 at bit pe * init_bits
    w = np.array([[-1, -1, -1, -1], [1, 1, 1, 1], [-2, 2, -2, 0], [0, -4, 0, 0]])
    cfg = MvuConfig(4, 4, 2, 2, 2, 3, "pot")
    assert cfg.has_init and cfg.init_bits == 3  # counts up to MW = 4
    assert mu.pack_init(w, cfg) == [4 | 0 << 3, 2 | 1 << 3]
    assert not MvuConfig(4, 4, 2, 2, 2, 3, "pot", t_bits=1).has_init
    assert not MvuConfig(4, 4, 2, 2, 2, 3, "int").has_init


def test_the_accumulator_widens_where_the_count_crosses_a_power_of_two():
    w = np.full((1, 4), -1)  # ternary, every weight negative; A1: x in {0, 1}
    assert mu.signed_bits(-4, 0) == 3  # W·x alone: FINN's accumulator
    lo, hi = mu.accumulator_range(w, 1, "pot")
    assert (lo.tolist(), hi.tolist()) == ([-8], [-4])  # W·x - 4
    assert mu.accumulator_bits(w, 1, "pot") == 4
    assert mu.accumulator_bits(w, 1, "int") == 3
    thr = np.array([[-2]])
    narrow = MvuConfig(4, 1, 1, 4, 1, 2, "pot", t_bits=1, acc=3)
    with pytest.raises(ValueError, match=r"\[-8, -4\].*3 bits cannot hold them, 4 can"):
        mu.stored_thresholds(thr, w, narrow)
    wide = MvuConfig(4, 1, 1, 4, 1, 2, "pot", t_bits=1, acc=4)
    assert mu.stored_thresholds(thr, w, wide).tolist() == [[-6]]


def test_a_threshold_clamped_into_reach_is_refused():
    # W·x of [4, 2, 1] with A1 reaches 7, a 4-bit accumulator's greatest value: 7 can
    # be stored, but 8 (never met) would become a 7 that is met
    w = np.array([[4, 2, 1]])
    cfg = MvuConfig(3, 1, 1, 3, 1, 3, "pot", t_bits=1, acc=4)
    assert mu.stored_thresholds(np.array([[7]]), w, cfg).tolist() == [[7]]
    with pytest.raises(ValueError, match="would be reached once clamped"):
        mu.stored_thresholds(np.array([[8]]), w, cfg)
    wider = MvuConfig(3, 1, 1, 3, 1, 3, "pot", t_bits=1, acc=5)
    assert mu.stored_thresholds(np.array([[8]]), w, wider).tolist() == [[8]]


# -- a bit-level model of the HDL, from the memory files -----------------------------------


def _fields(word: int, bits: int, count: int) -> list[int]:
    return [(word >> (i * bits)) & ((1 << bits) - 1) for i in range(count)]


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def emulate(cfg: MvuConfig, directory: Path, inputs: np.ndarray) -> np.ndarray:
    """What the PoT HDL computes from the memory files: ones'-complement terms, the
    accumulator from its start value (or 0), an ACC-bit register, thresholds compared
    as stored."""
    def words(name: str) -> list[int]:
        return [int(line, 16) for line in (directory / name).read_text().split()]

    assert cfg.pot
    wmem = words(mu.WEIGHT_FILE)
    starts = ([_fields(w, cfg.init_bits, cfg.pe) for w in words(mu.INIT_FILE)]
              if cfg.has_init else [[0] * cfg.pe] * cfg.nf)
    n_thr = (1 << cfg.t_bits) - 1
    tmem = words(mu.THRESH_FILE) if cfg.t_bits else []
    out = np.zeros((len(inputs), cfg.mh), dtype=np.int64)
    for v, x in enumerate(np.asarray(inputs, dtype=np.int64).tolist()):
        for nf in range(cfg.nf):
            for pe in range(cfg.pe):
                acc = starts[nf][pe]
                for sf in range(cfg.sf):
                    codes = _fields(wmem[nf * cfg.sf + sf], cfg.code_bits, cfg.pe * cfg.simd)
                    for s in range(cfg.simd):
                        code = codes[pe * cfg.simd + s]
                        sign, k = code & 1, code >> 1
                        shifted = x[sf * cfg.simd + s] << k if k < cfg.exps else 0
                        acc += ~shifted if sign else shifted
                acc = _signed(acc & ((1 << cfg.acc_bits) - 1), cfg.acc_bits)
                if cfg.t_bits:
                    thr = _fields(tmem[nf], cfg.acc_bits, cfg.pe * n_thr)
                    thr = [_signed(t, cfg.acc_bits) for t in thr[pe * n_thr:(pe + 1) * n_thr]]
                    acc = sum(acc >= t for t in thr)
                out[v, nf * cfg.pe + pe] = acc
    return out


def make_weights(mh: int, mw: int, exps: int, rng: np.random.Generator) -> np.ndarray:
    """Random PoT weights with the rows a wrong correction gets wrong: row 0 all at the
    most negative weight, row 1 all positive, row 2 no negative weight (zeros among
    them), the rest uniform over the levels."""
    w = rng.choice(pot_levels(exps), size=(mh, mw))
    w[0] = -(2 ** (exps - 1))
    w[1] = 2 ** rng.integers(0, exps, size=mw)
    if mh > 2:
        w[2] = np.where(rng.random(mw) < 0.5, 0, np.abs(w[2]))
    return w


def make_inputs(mw: int, a_bits: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.integers(0, 2**a_bits, size=(6, mw))
    x[0], x[1] = 2**a_bits - 1, 0  # the extremes: every weight at full size, and none
    return x


def make_thresholds(w: np.ndarray, x: np.ndarray, t_bits: int, rng: np.random.Generator,
                    ) -> np.ndarray:
    """Thresholds on and next to the real accumulator values (ties), sorted."""
    acc = mu.reference(w, None, x)
    pool = np.concatenate([acc, acc + 1, acc - 1])
    return np.sort(np.stack([rng.choice(pool[:, c], size=2**t_bits - 1)
                             for c in range(len(w))]), axis=1)


@pytest.mark.parametrize("exps", [1, 2, 3, 4, 7, 8])
@pytest.mark.parametrize("t_bits", [0, 2])
@pytest.mark.parametrize("narrow", [False, True])
def test_model_of_the_hdl_from_the_memory_files_equals_the_reference(exps, t_bits, narrow,
                                                                     tmp_path):
    """`narrow`: the accumulator as the FINN layer sizes it, exact for these weights
    (without thresholds: W·x only, the sum wraps; with: `accumulator_bits`)."""
    rng = np.random.default_rng(exps * 10 + t_bits)
    mh, mw, a_bits = 6, 12, 3
    w = make_weights(mh, mw, exps, rng)
    x = make_inputs(mw, a_bits, rng)
    thr = make_thresholds(w, x, t_bits, rng) if t_bits else None
    acc = 0
    if narrow and t_bits:  # as mvu_transform sizes it (FINN's type, widened)
        acc = max(mu.accumulator_bits(w, a_bits, "pot"),
                  mu.signed_bits(int(thr.min()), int(thr.max())))
    elif narrow:  # FINN's type: W·x only
        top = (1 << a_bits) - 1
        acc = mu.signed_bits(int(top * np.minimum(w, 0).sum(1).min()),
                             int(top * np.maximum(w, 0).sum(1).max()))
    cfg = MvuConfig(mw, mh, 2, 4, a_bits, 4, "pot", t_bits, acc=acc, pot_exps=exps)
    mu.write_memories(cfg, w, thr, tmp_path)
    assert np.array_equal(emulate(cfg, tmp_path, x), mu.reference(w, thr, x))


def test_the_model_sees_a_missing_correction(tmp_path):
    """The emulation is not blind to the correction: without it, rows with negative
    weights come out short by their count."""
    rng = np.random.default_rng(1)
    w = make_weights(4, 8, 3, rng)
    x = make_inputs(8, 2, rng)
    cfg = MvuConfig(8, 4, 2, 4, 2, 3, "pot")
    mu.write_memories(cfg, w, None, tmp_path)
    (tmp_path / mu.INIT_FILE).write_text("0\n0\n")
    short = mu.reference(w, None, x) - emulate(cfg, tmp_path, x)
    assert np.array_equal(short, np.broadcast_to((w < 0).sum(axis=1), short.shape))


# -- the HDL in Verilator ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pot-verilator")


@pytest.mark.slow
@pytest.mark.parametrize("exps", [2, 3, 4, 8])
@pytest.mark.parametrize("t_bits", [0, 2])
def test_hdl_is_bit_exact_for_several_pot_exps(exps, t_bits, tmp_path, sim_cache):
    rng = np.random.default_rng(exps + 100 * t_bits)
    mh, mw, pe, simd, a_bits = 6, 16, 3, 4, 3
    w = make_weights(mh, mw, exps, rng)
    x = make_inputs(mw, a_bits, rng)
    thr = make_thresholds(w, x, t_bits, rng) if t_bits else None
    res = simulate_unit(w, thr, x, pe, simd, a_bits, 4, "pot", tmp_path,
                        cache_dir=sim_cache, pot_exps=exps)
    assert res.ok and res.mismatches == 0, (res.outputs, res.expected)
    if t_bits:
        assert len(np.unique(res.outputs)) > 1


@pytest.mark.slow
@pytest.mark.parametrize("t_bits", [0, 3])
def test_hdl_is_bit_exact_with_every_weight_negative(t_bits, tmp_path, sim_cache):
    """All MW weights of every row negative: the largest correction, and with the
    maximum input the accumulator's most negative value."""
    rng = np.random.default_rng(7)
    mh, mw, a_bits, bits = 4, 32, 4, 3
    w = -(2 ** rng.integers(0, mu.pot_exponents(bits), size=(mh, mw)))
    w[0] = -4
    x = make_inputs(mw, a_bits, rng)
    thr = make_thresholds(w, x, t_bits, rng) if t_bits else None
    res = simulate_unit(w, thr, x, 2, 8, a_bits, bits, "pot", tmp_path, cache_dir=sim_cache)
    assert res.ok and res.mismatches == 0, (res.outputs, res.expected)
    if not t_bits:
        assert res.outputs[0, 0] == -4 * 15 * 32


@pytest.mark.slow
def test_hdl_is_bit_exact_at_the_narrow_accumulator_the_layer_uses(tmp_path, sim_cache):
    """Thresholds with the accumulator `accumulator_bits` gives: one bit more than W·x
    needs here (ternary, all negative), and exact."""
    mh, mw, a_bits = 2, 8, 1
    w = np.full((mh, mw), -1)
    w[1, :4] = 1
    assert mu.accumulator_bits(w, a_bits, "pot") == mu.signed_bits(-8, 4) + 1
    x = np.array([[1] * 8, [0] * 8, [1, 0] * 4, [0, 1] * 4, [1] * 4 + [0] * 4])
    thr = np.array([[-8, -7, -4, -3, -1, 0, 1], [-4, -1, 0, 1, 2, 3, 4]])
    cfg = MvuConfig(mw, mh, 1, 4, a_bits, 2, "pot", 3,
                    acc=mu.accumulator_bits(w, a_bits, "pot"))
    mu.write_memories(cfg, w, thr, tmp_path)
    res = mu.run_unit(cfg, x, mu.reference(w, thr, x), tmp_path, sim_cache)
    assert res.ok and res.mismatches == 0, (res.outputs, res.expected)


@pytest.mark.slow
@pytest.mark.parametrize("memory", [mu.INIT_FILE, mu.THRESH_FILE])
def test_a_memory_without_the_correction_is_caught(memory, tmp_path, sim_cache):
    """The simulation checks the correction: the same unit with start values 0, or with
    the thresholds as the mathematics states them, is wrong on rows with negative
    weights, and only there."""
    rng = np.random.default_rng(3)
    mh, mw, pe, simd, a_bits, bits = 4, 16, 2, 8, 3, 3
    t_bits = 2 if memory == mu.THRESH_FILE else 0
    w = make_weights(mh, mw, mu.pot_exponents(bits), rng)
    x = make_inputs(mw, a_bits, rng)
    thr = make_thresholds(w, x, t_bits, rng) if t_bits else None
    cfg = MvuConfig(mw, mh, pe, simd, a_bits, bits, "pot", t_bits)
    mu.write_memories(cfg, w, thr, tmp_path)
    expected = mu.reference(w, thr, x)
    assert mu.run_unit(cfg, x, expected, tmp_path, sim_cache).ok
    if t_bits:
        words = mu.pack_thresholds(thr, cfg)  # uncorrected
        mu.write_hex(tmp_path / memory, words, cfg.pe * 3 * cfg.acc_bits)
    else:
        mu.write_hex(tmp_path / memory, [0] * cfg.nf, cfg.pe * cfg.init_bits)
    res = mu.run_unit(cfg, x, expected, tmp_path, sim_cache)
    assert not res.ok
    wrong = sorted(set(np.nonzero(res.outputs != expected)[1].tolist()))
    assert wrong and set(wrong) <= set(np.nonzero((w < 0).any(axis=1))[0].tolist())
    assert 1 not in wrong and 2 not in wrong  # the rows without negative weights


@pytest.mark.slow
def test_a_flipped_sign_bit_shows_even_where_the_input_is_zero(tmp_path, sim_cache):
    """The start value was made for the weights' signs: flip one in the memory and the
    channel is off on every vector, also those whose input under it is 0 (there the
    weight itself contributes nothing, but its -1 is no longer made up for)."""
    rng = np.random.default_rng(4)
    mh, mw, pe, simd, a_bits, bits = 4, 8, 2, 4, 3, 3
    w = make_weights(mh, mw, mu.pot_exponents(bits), rng)
    w[3, 5] = 2
    x = make_inputs(mw, a_bits, rng)
    x[::2, 5] = 0
    cfg = MvuConfig(mw, mh, pe, simd, a_bits, bits, "pot")
    mu.write_memories(cfg, w, None, tmp_path)
    hexfile = tmp_path / mu.WEIGHT_FILE
    lines = hexfile.read_text().split()
    address, field = (3 // pe) * cfg.sf + 5 // simd, (3 % pe) * simd + 5 % simd
    word = int(lines[address], 16) ^ (1 << field * cfg.code_bits)  # the sign bit
    lines[address] = f"{word:0{len(lines[address])}x}"
    hexfile.write_text("\n".join(lines) + "\n")
    res = mu.run_unit(cfg, x, mu.reference(w, None, x), tmp_path, sim_cache)
    flipped = w.copy()
    flipped[3, 5] = -2
    assert np.array_equal(res.outputs, mu.reference(flipped, None, x) - (np.arange(4) == 3))
    assert (res.outputs[:, 3] != mu.reference(w, None, x)[:, 3]).all()
