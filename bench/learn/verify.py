"""Bit-exact check of the hardware graph against the trained Brevitas model.

Tolerance, not argmax: the accelerator's integer datapath plus the host-side output scale
must reproduce the Brevitas logits up to float32 rounding. One activation off by one
quantization step already moves a logit by far more than the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

VERIFY_RTOL = 1e-3


@dataclass
class VerifyResult:
    ok: bool
    max_abs_err: float
    samples: int
    argmax_agreement: float
    mismatched_samples: int = 0


def compare(got: np.ndarray, expected: np.ndarray, rtol: float = VERIFY_RTOL) -> VerifyResult:
    got = got.reshape(expected.shape)
    err = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    agreement = float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1)))
    per_sample = np.abs(got - expected).reshape(len(expected), -1).max(axis=1)
    return VerifyResult(
        ok=err <= rtol * scale, max_abs_err=err, samples=len(expected),
        argmax_agreement=agreement, mismatched_samples=int((per_sample > rtol * scale).sum()),
    )


def verify_hw_graph(
    hw: Any, expected: np.ndarray, inputs: np.ndarray, work_dir: Path
) -> VerifyResult:
    """Execute the HW graph (a `bench.finn_flow.HwGraph`) in FINN's Python simulation on
    `inputs` and compare with the expected logits.

    The flattened, set-up-once execution (`execute_many`) is checked against QONNX's own
    executor on its first samples, and its outputs here against the network itself.
    """
    return compare(hw.execute_many(inputs, work_dir), expected)
