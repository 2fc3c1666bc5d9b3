"""Property tests: whatever a user types, validation answers with a spec within bounds or
one line saying what is allowed, never a traceback."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.core.errors import SpecError
from bench.core.spec import CLK_NS_RANGE, MAX_EPOCHS, MAX_PARALLEL, MAX_SEED, make_spec

# What users pass: numbers of any size, text, booleans (YAML's true/false), nothing.
ANY_VALUE = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
    st.text(max_size=30), st.text(min_size=500, max_size=600), st.booleans(), st.none(),
)
FIELDS = ("weight_bits", "act_bits", "pe", "simd", "epochs", "seed", "clk_ns", "board",
          "model", "dataset", "weight_quant", "target")


def _spec_or_error(**fields):
    try:
        return make_spec(**fields), None
    except SpecError as err:
        return None, str(err)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), ANY_VALUE, max_size=4))
def test_any_input_gives_a_bounded_spec_or_one_line(fields):
    spec, error = _spec_or_error(**fields)
    if spec is None:
        # One line, one short clause per bad field: never an echo of a huge input.
        assert error and "\n" not in error
        assert len(error) < 150 * len(fields) + 50
        return
    assert 1 <= spec.weight_bits <= 8 and 1 <= spec.act_bits <= 8
    assert 1 <= spec.folding.pe <= MAX_PARALLEL
    assert 1 <= spec.folding.effective_simd <= MAX_PARALLEL
    assert 1 <= spec.epochs <= MAX_EPOCHS and 0 <= spec.seed <= MAX_SEED
    assert CLK_NS_RANGE[0] <= spec.clk_ns <= CLK_NS_RANGE[1] and math.isfinite(spec.clk_ns)
    for name, value in fields.items():
        if isinstance(value, bool) and name not in ("model", "dataset", "board",
                                                      "weight_quant", "target"):
            raise AssertionError(f"{name}={value} was accepted as a number")
    assert spec.run_id() == make_spec(**fields).run_id()  # validation is deterministic


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_PARALLEL), st.integers(0, MAX_SEED))
def test_every_value_within_bounds_is_accepted(pe, seed):
    spec = make_spec(pe=pe, seed=seed)
    assert spec.folding.pe == pe and spec.seed == seed


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=MAX_PARALLEL + 1, max_value=2**80))
def test_parallelism_beyond_the_bound_is_refused(pe):
    spec, error = _spec_or_error(pe=pe)
    assert spec is None and error.startswith("pe: must be in 1..65536")
