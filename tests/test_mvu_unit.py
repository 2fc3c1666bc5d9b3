"""The matrix-vector-threshold unit in bench/rtl/hdl: layouts and encodings by hand, then
the HDL in Verilator against the numpy reference, and its synthesis with Yosys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.rtl import mvu_unit as mu
from bench.rtl.mvu_unit import MvuConfig
from tests.unit_harness import pot_decode, simulate_unit

# -- encodings and layouts, without tools -----------------------------------------------------


@pytest.mark.parametrize("bits", [2, 3, 4, 5])
def test_pot_codes_round_trip_every_level(bits):
    r = mu.pot_exponents(bits)
    levels = np.array([0] + [s * 2**k for k in range(r) for s in (1, -1)])
    codes = mu.pot_encode(levels, bits)
    assert np.array_equal(pot_decode(codes, r), levels)
    assert codes[0] == r << 1  # the zero code, sign clear
    # an n-bit quantizer's r = 2^(n-1)-1 exponents and zero fill n-1 code bits exactly
    assert MvuConfig(2, 2, 1, 1, 2, bits, "pot").code_bits == bits
    assert codes.max() < 1 << bits


def test_pot_exponents_match_the_quantizer():
    from models.quantizers import pot_exponents

    assert [mu.pot_exponents(b) for b in range(2, 6)] == [pot_exponents(b) for b in range(2, 6)]


@pytest.mark.parametrize("weight, why", [(3, "3 at (0, 1)"), (-6, "-6 at (0, 1)"),
                                         (8, "8 at (0, 1)")])
def test_pot_encoder_rejects_other_weights_in_one_line(weight, why):
    w = np.array([[1, weight, -4]])
    with pytest.raises(ValueError) as exc:
        mu.pot_encode(w, 3)  # 3-bit PoT: 0, ±1, ±2, ±4
    message = str(exc.value)
    assert message == f"weight {why} is not 0 or ±2^k with k < 3 (3-bit PoT)"
    assert "\n" not in message


def test_int_weights_out_of_range_are_refused():
    cfg = MvuConfig(2, 1, 1, 2, 2, 3, "int")
    with pytest.raises(ValueError, match=r"int weights must lie in \[-4, 3\] for W3"):
        mu.weight_codes(np.array([[3, 4]]), cfg)


def test_folding_must_divide_the_matrix():
    with pytest.raises(ValueError, match="SIMD=3 must divide MW=8"):
        MvuConfig(8, 4, 2, 3, 4, 4)


def test_weight_word_layout_by_hand():
    # MH=4, MW=4, PE=2, SIMD=2: address nf*SF + sf, weight (pe, s) at (pe*SIMD + s) * 4
    w = np.arange(16).reshape(4, 4) - 8
    cfg = MvuConfig(4, 4, 2, 2, 2, 4, "int")
    words = mu.pack_weights(w, cfg)

    def nibble(v: int) -> int:
        return int(v) & 0xF

    # address 1 = (nf 0, sf 1): channels 0 and 1, inputs 2 and 3
    expected = (nibble(w[0, 2]) | nibble(w[0, 3]) << 4
                | nibble(w[1, 2]) << 8 | nibble(w[1, 3]) << 12)
    assert len(words) == 4
    assert words[1] == expected
    # address 2 = (nf 1, sf 0): channels 2 and 3, inputs 0 and 1
    assert words[2] & 0xF == nibble(w[2, 0])
    assert words[2] >> 8 & 0xF == nibble(w[3, 0])


def test_threshold_word_layout_and_clamping():
    cfg = MvuConfig(2, 2, 2, 2, 2, 2, "int", t_bits=1)  # acc_bits = 2 + 2 + 1 = 5
    assert cfg.acc_bits == 5
    words = mu.pack_thresholds(np.array([[-3], [100]]), cfg)
    # channel 0 at bit 0: -3 in 5 bits; channel 1 at bit 5: 100 clamped to 15
    assert words == [(-3 & 0x1F) | 15 << 5]


def test_streams_pack_element_zero_first_and_outputs_sign_extend():
    cfg = MvuConfig(4, 2, 2, 2, 3, 2, "int")
    x = np.array([[1, 2, 3, 4]])
    assert mu.pack_inputs(x, cfg) == [1 | 2 << 3, 3 | 4 << 3]
    b = cfg.out_bits
    word = (-5 & ((1 << b) - 1)) | 7 << b
    assert mu.unpack_outputs([word], cfg).tolist() == [[-5, 7]]


def test_reference_counts_thresholds_reached_including_ties():
    w = np.array([[1, -2], [2, 2]])
    x = np.array([[3, 1]])  # acc = [1, 8]
    thr = np.array([[0, 1, 2], [8, 9, 10]])
    assert mu.reference(w, None, x).tolist() == [[1, 8]]
    assert mu.reference(w, thr, x).tolist() == [[2, 1]]


# -- the HDL in Verilator ----------------------------------------------------------------------

# (datapath, MH, MW, PE, SIMD, weight bits, activation bits, threshold bits)
CASES = [
    ("int", 8, 16, 2, 4, 4, 4, 0),
    ("int", 8, 16, 8, 16, 2, 3, 2),  # PE = MH, SIMD = MW
    ("int", 6, 12, 1, 1, 5, 2, 0),  # fully folded
    ("int", 8, 24, 4, 8, 3, 1, 1),
    ("pot", 8, 16, 2, 4, 3, 4, 0),
    ("pot", 8, 16, 8, 16, 2, 4, 2),  # ternary, PE = MH, SIMD = MW
    ("pot", 6, 12, 3, 1, 4, 2, 0),
    ("pot", 4, 32, 1, 32, 5, 3, 3),
]


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mvu-verilator")


def make_case(datapath, mh, mw, bits, a_bits, t_bits, seed=0):
    """Random weights and inputs with the extremes forced in, thresholds on real
    accumulator values so that ties (acc == t) occur."""
    rng = np.random.default_rng(seed)
    w = mu.random_weights(mh, mw, bits, datapath, rng)
    # channel 0: the most negative weight everywhere, met by an all-maximum input
    w[0, :] = -(2 ** ((bits if datapath == "int" else mu.pot_exponents(bits)) - 1))
    x = rng.integers(0, 2**a_bits, size=(6, mw))
    x[0, :] = 2**a_bits - 1
    x[1, :] = 0
    if not t_bits:
        return w, None, x
    acc = mu.reference(w, None, x)
    pool = np.concatenate([acc, acc + 1, acc - 1])
    thr = np.sort(np.stack([rng.choice(pool[:, c], size=2**t_bits - 1) for c in range(mh)]),
                  axis=1)
    return w, thr, x


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_unit_is_bit_exact_at_one_vector_per_sf_nf_cycles(case, tmp_path, sim_cache):
    datapath, mh, mw, pe, simd, bits, a_bits, t_bits = case
    w, thr, x = make_case(datapath, mh, mw, bits, a_bits, t_bits)
    res = simulate_unit(w, thr, x, pe, simd, a_bits, bits, datapath, tmp_path,
                           cache_dir=sim_cache)
    assert res.mismatches == 0, (res.outputs, res.expected)
    assert res.ok
    if thr is not None:
        assert len(np.unique(res.outputs)) > 1, "thresholds should give varied outputs"
    assert res.cycles_per_vector == (mw // simd) * (mh // pe)
    assert res.latency == (mu.THRESHOLD_LATENCY if t_bits else mu.LATENCY)


@pytest.mark.slow
@pytest.mark.parametrize("datapath, bits", [("int", 4), ("pot", 3)])
def test_unit_keeps_every_output_under_backpressure(datapath, bits, tmp_path, sim_cache):
    w, thr, x = make_case(datapath, 8, 16, bits, 4, 2, seed=5)
    free = simulate_unit(w, thr, x, 2, 8, 4, bits, datapath, tmp_path / "free",
                         cache_dir=sim_cache)
    stalled = simulate_unit(w, thr, x, 2, 8, 4, bits, datapath, tmp_path / "stalled",
                            cache_dir=sim_cache, stall_percent=50)
    assert free.ok and stalled.ok and stalled.mismatches == 0
    assert stalled.sim.cycles > free.sim.cycles  # the same words, later


@pytest.mark.slow
@pytest.mark.parametrize("datapath, bits", [("int", 4), ("pot", 4)])
def test_adder_chain_is_bit_exact_too(datapath, bits, tmp_path, sim_cache):
    w, thr, x = make_case(datapath, 8, 16, bits, 4, 0, seed=3)
    res = simulate_unit(w, thr, x, 2, 8, 4, bits, datapath, tmp_path, chain=True,
                           cache_dir=sim_cache)
    assert res.ok and res.mismatches == 0


def test_pipeline_stages_follow_the_tree_depth():
    stages = {(simd, pipe): MvuConfig(64, 4, 1, simd, 4, 4, pipe=pipe).dot_stages
              for simd in (1, 2, 4, 8, 16, 64) for pipe in (0, 1, 2, 3)}
    # SIMD=64: 6 levels, a register after levels 1..5 / 2, 4 / 3 (never after the last)
    assert [stages[64, p] for p in (0, 1, 2, 3)] == [0, 5, 2, 1]
    assert [stages[8, p] for p in (0, 1, 2, 3)] == [0, 2, 1, 0]
    assert stages[1, 1] == stages[2, 1] == 0 and stages[4, 1] == 1
    # with thresholds, one more: the comparisons are registered before their count
    assert MvuConfig(64, 4, 1, 64, 4, 4, t_bits=2, pipe=2).latency == mu.THRESHOLD_LATENCY + 3
    with pytest.raises(ValueError, match="adder tree"):
        MvuConfig(64, 4, 1, 64, 4, 4, chain=True, pipe=1)


@pytest.mark.slow
@pytest.mark.parametrize("datapath, bits, t_bits, pipe", [
    ("int", 4, 0, 1), ("int", 3, 2, 2), ("pot", 3, 0, 1), ("pot", 4, 2, 2)])
def test_pipelined_adder_tree_is_bit_exact_with_its_added_latency(
        datapath, bits, t_bits, pipe, tmp_path, sim_cache):
    """Registers inside the tree (and between the threshold comparisons and their count)
    delay every beat equally: same outputs, same rate, the latency longer by exactly the
    stages, and still every word under backpressure."""
    mh, mw, pe, simd = 8, 32, 2, 16
    w, thr, x = make_case(datapath, mh, mw, bits, 4, t_bits, seed=11)
    cfg = MvuConfig(mw, mh, pe, simd, 4, bits, datapath, t_bits, pipe=pipe)
    res = simulate_unit(w, thr, x, pe, simd, 4, bits, datapath, tmp_path / "free",
                        cache_dir=sim_cache, pipe=pipe)
    assert res.ok and res.mismatches == 0
    assert res.cycles_per_vector == (mw // simd) * (mh // pe)
    assert cfg.dot_stages == (3 if pipe == 1 else 1)
    assert res.latency == cfg.latency == (mu.THRESHOLD_LATENCY + 1 if t_bits else mu.LATENCY) \
        + cfg.dot_stages
    stalled = simulate_unit(w, thr, x, pe, simd, 4, bits, datapath, tmp_path / "stalled",
                            cache_dir=sim_cache, stall_percent=40, pipe=pipe)
    assert stalled.ok and stalled.sim.cycles > res.sim.cycles


@pytest.mark.slow
@pytest.mark.parametrize("datapath, bits", [("int", 4), ("pot", 3)])
def test_flipped_weight_bit_in_memory_file_breaks_the_check(datapath, bits, tmp_path,
                                                           sim_cache):
    mh, mw, pe, simd = 8, 16, 2, 4
    cfg = MvuConfig(mw, mh, pe, simd, 4, bits, datapath)
    w, _, x = make_case(datapath, mh, mw, bits, 4, 0, seed=5)
    assert simulate_unit(w, None, x, pe, simd, 4, bits, datapath, tmp_path,
                            cache_dir=sim_cache).ok
    # weight of channel 3 = (nf 1, pe 1) for input 6 = (sf 1, s 2): address 1*SF + 1
    ch, i = 3, 6
    if datapath == "pot":
        w[ch, i] = 2  # code 1: flipping the code's lowest bit makes it 1
        mu.write_memories(cfg, w, None, tmp_path)
    x[:, i] = np.where(np.arange(len(x)) % 2 == 0, x[:, i], 0)  # some vectors see it
    expected = mu.reference(w, None, x)
    hexfile = tmp_path / mu.WEIGHT_FILE
    lines = hexfile.read_text().splitlines()
    address, field = (ch // pe) * cfg.sf + i // simd, (ch % pe) * simd + i % simd
    bit = field * cfg.code_bits + cfg.pot  # int: weight LSB; pot: exponent code LSB
    lines[address] = f"{int(lines[address], 16) ^ (1 << bit):0{len(lines[address])}x}"
    hexfile.write_text("\n".join(lines) + "\n")
    res = mu.run_unit(cfg, x, expected, tmp_path, sim_cache)
    assert not res.ok
    assert res.mismatches == int((x[:, i] != 0).sum()) > 0
    assert (res.outputs != expected).sum(axis=0).nonzero()[0].tolist() == [ch]


# -- synthesis -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_synthesis_keeps_weights_in_memory_and_pot_needs_no_dsp(tmp_path):
    shape = dict(mw=16, mh=4, pe=2, simd=4, a_bits=4)
    # Yosys puts a multiplier into a DSP only from a 9-bit product up: W5 x A4 here
    with_dsp = mu.synthesize_unit(**shape, w_bits=5, datapath="int", work_dir=tmp_path / "d")
    no_dsp = mu.synthesize_unit(**shape, w_bits=5, datapath="int", work_dir=tmp_path / "n",
                                dsp=False)
    int4 = mu.synthesize_unit(**shape, w_bits=4, datapath="int", work_dir=tmp_path / "i",
                              dsp=False)
    pot = mu.synthesize_unit(**shape, w_bits=3, datapath="pot", work_dir=tmp_path / "p")
    assert with_dsp.dsp == 8  # one per weight lane: PE x SIMD
    assert no_dsp.dsp == 0 and no_dsp.lut > with_dsp.lut
    assert pot.dsp == 0
    for res in (with_dsp, no_dsp, int4, pot):
        assert res.lutram > 0, "the weight memory must stay a memory, not constants"
        assert res.logic_delay is not None and res.logic_delay > 0
    # same integer range (FINN holds 3-bit PoT weights as INT4), no multipliers
    assert pot.lut < int4.lut


# A wrapper that withholds input beats and output readiness on a pseudo-random pattern:
# the testbench itself always offers input and always takes output.
THROTTLE = """
module mvu_throttled #(
  parameter int unsigned MW = 16, MH = 8, PE = 2, SIMD = 4, A_BITS = 4,
  parameter bit POT = 0,
  parameter int unsigned W_BITS = 4, POT_EXPS = 3, T_BITS = 0,
  parameter bit CHAIN = 0, PIN = 1,
  parameter int unsigned IN_W = 16, OUT_W = 8
) (
  input logic ap_clk, input logic ap_rst_n,
  input logic [IN_W-1:0] s_axis_tdata, input logic s_axis_tvalid,
  output logic s_axis_tready,
  output logic [OUT_W-1:0] m_axis_tdata, output logic m_axis_tvalid,
  input logic m_axis_tready
);
  logic [15:0] lfsr;
  always_ff @(posedge ap_clk)
    if (!ap_rst_n) lfsr <= 16'hACE1;
    else lfsr <= {lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]};
  logic offer, take, ready, valid;
  assign offer = lfsr[0] | lfsr[7];
  assign take = lfsr[2] & (lfsr[5] | lfsr[9]);
  qnnbench_mvu #(
    .MW(MW), .MH(MH), .PE(PE), .SIMD(SIMD), .A_BITS(A_BITS), .POT(POT), .W_BITS(W_BITS),
    .POT_EXPS(POT_EXPS), .T_BITS(T_BITS), .CHAIN(CHAIN), .PIN(PIN)
  ) dut (
    .ap_clk, .ap_rst_n,
    .s_axis_tdata, .s_axis_tvalid(s_axis_tvalid & offer), .s_axis_tready(ready),
    .m_axis_tdata, .m_axis_tvalid(valid), .m_axis_tready(m_axis_tready & take),
    .w_wr_en(1'b0), .w_wr_addr('0), .w_wr_data('0),
    .t_wr_en(1'b0), .t_wr_addr('0), .t_wr_data('0),
    .i_wr_en(1'b0), .i_wr_addr('0), .i_wr_data('0)
  );
  assign s_axis_tready = ready & offer;
  assign m_axis_tvalid = valid & take;
endmodule
"""


@pytest.mark.slow
@pytest.mark.parametrize("datapath, bits, t_bits", [("int", 3, 2), ("pot", 3, 0)])
def test_unit_is_bit_exact_under_backpressure_and_input_gaps(datapath, bits, t_bits,
                                                             tmp_path, sim_cache):
    from bench.rtl import verilator

    mh, mw, pe, simd, a_bits = 8, 16, 2, 4, 3
    cfg = MvuConfig(mw, mh, pe, simd, a_bits, bits, datapath, t_bits)
    w, thr, x = make_case(datapath, mh, mw, bits, a_bits, t_bits, seed=7)
    mu.write_memories(cfg, w, thr, tmp_path)
    wrapper = tmp_path / "mvu_throttled.sv"
    wrapper.write_text(THROTTLE)
    sim = verilator.simulate(
        [*mu.sources(), wrapper], "mvu_throttled", mu.pack_inputs(x, cfg), cfg.in_width,
        cfg.out_width, len(x) * cfg.nf, tmp_path, sim_cache,
        {**cfg.params(), "IN_W": cfg.in_width, "OUT_W": cfg.out_width})
    assert not sim.timed_out
    got = mu.unpack_outputs(sim.outputs, cfg)
    assert np.array_equal(got, mu.reference(w, thr, x))
    # the pattern did stall the unit: uneven output spacing (SF apart when unthrottled)
    # and far more cycles than SF*NF per vector
    assert set(sim.gaps) != {cfg.sf}
    assert sim.cycles > 1.3 * len(x) * cfg.sf * cfg.nf
