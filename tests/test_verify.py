import numpy as np

from bench.learn.verify import compare


def test_compare_counts_mismatched_samples_relative_to_output_range():
    expected = np.array([[10.0, -2.0, 1.0], [3.0, 4.0, 0.0], [0.5, 0.1, 9.0]])
    same = compare(expected + 1e-6, expected)
    assert same.ok and same.mismatched_samples == 0 and same.argmax_agreement == 1.0
    got = expected.copy()
    got[1, 0] += 0.05  # one activation step off in one sample: far above 1e-3 of range 10
    result = compare(got, expected)
    assert not result.ok and result.mismatched_samples == 1
    assert result.argmax_agreement == 1.0
    assert np.isclose(result.max_abs_err, 0.05)


def test_compare_detects_a_changed_decision():
    expected = np.array([[1.0, 2.0]])
    result = compare(np.array([[2.5, 2.0]]), expected)
    assert not result.ok and result.argmax_agreement == 0.0
