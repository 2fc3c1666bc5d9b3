"""FIFO depths from simulation (`bench.rtl.fifo_sizing`): the rounding to what FINN's FIFO
builds, deepening after a slow confirmation run, and the occupancy the stitched top reports
from an unbounded gauge and from a real FIFO."""

from __future__ import annotations

import pytest

from bench.rtl import fifo_sizing, stitch
from tests.test_rtl_stitch import PART, _chain


@pytest.mark.parametrize(("words", "depth"), [
    (0, 3), (1, 3), (3, 3), (7, 7), (33, 33),  # shift register: as asked, at least 3
    (34, 65), (64, 65), (65, 65), (66, 129), (300, 513),  # memory: 2^k words + 1
])
def test_depth_rounds_to_what_the_fifo_builds(words, depth):
    assert fifo_sizing.implementable_depth(words) == depth


def test_deepen_grows_the_full_fifos_or_all_of_them():
    depths = {"a": 4, "b": 20, "c": 40}
    assert fifo_sizing.deepen(depths, {"b"}) == {"a": 4, "b": 65, "c": 40}
    assert fifo_sizing.deepen(depths, set()) == {"a": 8, "b": 65, "c": 129}


def test_storage_bits_are_words_times_width():
    assert fifo_sizing.storage_bits({"a": 3, "b": 65}, {"a": 8, "b": 16}) == 24 + 1040


def test_a_stalled_consumer_fills_the_gauge_beyond_a_real_fifo(tmp_path):
    """The hand-written chain (converter, FIFO of depth 4, pass-through): with the output
    always ready the FIFO never holds more than a word; with stalls the unbounded gauge
    keeps accepting (it never stalls its producer) and so peaks above what the real
    4-deep FIFO can hold, and both runs stay bit-exact."""
    layers = _chain(tmp_path)
    words = list(range(40))
    expected = [((b + 3) << 8) | (a + 3) for a, b in zip(words[::2], words[1::2], strict=True)]

    def run(gauge: bool, stalls: int) -> dict:
        return stitch.measure_stitched(layers, words, expected, 4, tmp_path, PART, 10.0,
                                       synth=False, cache_dir=tmp_path / "verilator",
                                       gauge=gauge, stall_percent=stalls)

    free, gauge, real = run(True, 0), run(True, 60), run(False, 60)
    assert all(r["sim_ok"] for r in (free, gauge, real))
    assert free["fifo_peaks"] == {"fifo_0": 1}
    assert real["fifo_peaks"]["fifo_0"] <= 5 < gauge["fifo_peaks"]["fifo_0"]


def test_peaks_are_capped_at_one_image_and_memory_fifos_are_tried_shallow():
    peaks = {"pad": 8067, "mvu": 15, "swg": 40}
    one_image = {"pad": 1024, "mvu": 16, "swg": 2500}
    depths = fifo_sizing.depths_from_peaks(peaks, one_image)
    assert depths == {"pad": 1025, "mvu": 15, "swg": 65}
    assert fifo_sizing.shallow_trial(depths) == {"pad": 3, "mvu": 15, "swg": 3}
    assert fifo_sizing.shallow_trial({"mvu": 15}) is None  # shift registers only


def test_switching_activity_of_a_stitched_chain_counts_only_a_bit_exact_run(tmp_path):
    layers = _chain(tmp_path)
    words = list(range(40))
    expected = [((b + 3) << 8) | (a + 3) for a, b in zip(words[::2], words[1::2], strict=True)]
    got = stitch.stitched_activity(layers, words, expected, 4, tmp_path, tmp_path / "v")
    assert got["toggles_per_image"] > 0 and got["nets"] > 0 and got["images"] == 4
    (layers[0].hdl_dir / "add.hex").write_text("04\n")  # the design now adds 4, not 3
    with pytest.raises(RuntimeError, match="not bit-exact"):
        stitch.stitched_activity(layers, words, expected, 4, tmp_path, tmp_path / "v")


def test_a_paced_source_offers_each_image_at_its_period(tmp_path):
    """10 input words per image (the chain's converter makes 5 output words of them),
    offered every 40 cycles: image k's first input word is taken at cycle 40·k or
    later, and the images leave 40 cycles apart instead of the chain's own 10."""
    layers = _chain(tmp_path)
    words = list(range(40))
    expected = [((b + 3) << 8) | (a + 3) for a, b in zip(words[::2], words[1::2], strict=True)]
    paced = stitch.measure_stitched(layers, words, expected, 4, tmp_path, PART, 10.0,
                                    synth=False, cache_dir=tmp_path / "verilator",
                                    input_period=40)
    assert paced["sim_ok"] and paced["cycles_per_image"] == 40, paced
    with pytest.raises(ValueError, match="pacing needs"):
        stitch.measure_stitched(layers, words, expected, 4, tmp_path, PART, 10.0,
                                synth=False, cache_dir=tmp_path / "verilator",
                                input_period=-1)
