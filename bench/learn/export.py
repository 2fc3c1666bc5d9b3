"""Brevitas -> QONNX, checked against PyTorch before anything downstream trusts it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

# Relative to the output range: QONNX and PyTorch compute the same graph in float32, in a
# different order, so they agree to rounding; a wrong quantizer would miss by whole steps.
EXPORT_RTOL = 1e-4
# A pre-activation within float32 rounding of a quantization threshold can land on either
# side in two correct implementations; deep 8-bit networks show this on a sample or two.
# An export bug shows on most samples, so the check fails past this fraction.
MAX_MISMATCHED_FRACTION = 0.25


@dataclass
class ExportResult:
    path: Path
    max_abs_err: float
    samples: int
    mismatched_samples: int = 0


class ExportMismatch(RuntimeError):
    pass


def export_qonnx(model: nn.Module, sample: np.ndarray, path: Path, input_bits: int = 8) -> Path:
    """Export with Brevitas' QONNX manager and mark the input as unsigned integer pixels.

    The legacy TorchScript exporter is used (dynamo=False): it is ~40x faster and writes a
    single self-contained file.
    """
    from brevitas.export import export_qonnx as brevitas_export_qonnx
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.from_numpy(sample[:1]).float()
    brevitas_export_qonnx(model, x, export_path=str(path), dynamo=False)
    wrapped = cleanup_model(ModelWrapper(str(path)))
    wrapped.set_tensor_datatype(wrapped.graph.input[0].name, DataType[f"UINT{input_bits}"])
    wrapped.save(str(path))
    return path


def run_qonnx(path: Path, inputs: np.ndarray) -> np.ndarray:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = ModelWrapper(str(path))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    outs = [
        execute_onnx(model, {iname: x[None].astype(np.float32)})[oname].reshape(-1)
        for x in inputs
    ]
    return np.stack(outs)


def export_and_check(
    model: nn.Module, inputs: np.ndarray, path: Path, input_bits: int = 8
) -> ExportResult:
    """Export, then run QONNX and PyTorch on the same samples and require agreement.

    Agreement is per sample, against the float64 PyTorch reference; isolated threshold
    ties are counted (and recorded), a systematic difference fails the export.
    """
    from bench.learn.train import predict_float64
    from bench.learn.verify import compare

    export_qonnx(model, inputs, path, input_bits)
    result = compare(run_qonnx(path, inputs), predict_float64(model, inputs), rtol=EXPORT_RTOL)
    if result.mismatched_samples > MAX_MISMATCHED_FRACTION * len(inputs):
        raise ExportMismatch(
            f"QONNX output differs from PyTorch on {result.mismatched_samples} of "
            f"{len(inputs)} samples (max abs err {result.max_abs_err:.3g})"
        )
    return ExportResult(path=path, max_abs_err=result.max_abs_err, samples=len(inputs),
                        mismatched_samples=result.mismatched_samples)
