import math

import pytest

from bench.core.devices import BOARDS, get_board, utilization


def test_board_lookup_is_case_insensitive():
    assert get_board("pynq-z1").part == "xc7z020clg400-1"
    assert get_board("ZCU104").uram == 96


def test_unknown_board_names_allowed_values():
    with pytest.raises(ValueError, match="allowed: Pynq-Z1"):
        get_board("Alveo")


def test_capacities_match_datasheets():
    assert BOARDS["Pynq-Z1"].capacity() == {"lut": 53_200, "bram18": 280, "uram": 0, "dsp": 220}
    assert BOARDS["ZCU102"].bram18 == 1_824


def test_utilization_and_fits():
    board = get_board("Pynq-Z1")
    fractions, fits = utilization(board, {"lut": 26_600, "bram18": 28, "dsp": 0})
    assert fractions["lut"] == pytest.approx(0.5) and fractions["bram18"] == pytest.approx(0.1)
    assert fits
    _, fits = utilization(board, {"lut": 60_000})
    assert not fits


def test_uram_on_a_part_without_uram_does_not_fit():
    fractions, fits = utilization(get_board("Pynq-Z1"), {"uram": 1})
    assert math.isinf(fractions["uram"]) and not fits
