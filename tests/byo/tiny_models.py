"""Tiny Brevitas networks standing in for a researcher's own models.

`tiny_mlp` is an external factory (`tests.byo.tiny_models:tiny_mlp`); `float_input_mlp`
takes float input and maps it to -1..1 inside the graph (2x - 1), as many exported models
do; `sigmoid_mlp` has an op FINN cannot map to hardware.
"""

from __future__ import annotations

import numpy as np
import torch
from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
from torch import nn


def tiny_mlp(input_shape: tuple[int, int, int], num_classes: int,
             weight_bits: int = 2, act_bits: int = 2) -> nn.Module:
    """An external factory: the harness passes the input shape and class count."""
    features = int(np.prod(input_shape))
    return nn.Sequential(
        nn.Flatten(),
        QuantLinear(features, 16, bias=False, weight_bit_width=weight_bits),
        nn.BatchNorm1d(16),
        QuantReLU(bit_width=act_bits, return_quant_tensor=False),
        QuantLinear(16, num_classes, bias=False, weight_bit_width=weight_bits),
    )


class FloatInputMlp(nn.Module):
    """Float input in 0..1, mapped to -1..1 in the graph before an 8-bit input quantizer."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.quant_in = QuantIdentity(bit_width=8, return_quant_tensor=False)
        self.body = nn.Sequential(
            QuantLinear(features, 16, bias=False, weight_bit_width=3),
            nn.BatchNorm1d(16),
            QuantReLU(bit_width=3, return_quant_tensor=False),
            QuantLinear(16, 10 if num_classes is None else num_classes, bias=False,
                        weight_bit_width=3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.quant_in(2.0 * torch.flatten(x, 1) - 1.0))


class SigmoidMlp(nn.Module):
    """A float sigmoid between quantized layers: FINN has no hardware layer for it."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.quant_in = QuantIdentity(bit_width=8, return_quant_tensor=False)
        self.fc1 = QuantLinear(features, 16, bias=False, weight_bit_width=2)
        self.act = QuantIdentity(bit_width=4, return_quant_tensor=False)
        self.fc2 = QuantLinear(16, num_classes, bias=False, weight_bit_width=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(torch.sigmoid(self.fc1(self.quant_in(torch.flatten(x, 1))))))


def train_briefly(model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int = 60,
                  seed: int = 0) -> nn.Module:
    """A few Adam steps on float inputs in 0..1: enough to beat chance on digits."""
    torch.manual_seed(seed)
    inputs = torch.from_numpy(x).float() / 255.0
    labels = torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for step in range(steps):
        idx = torch.arange(step * 64, step * 64 + 64) % len(inputs)
        opt.zero_grad()
        nn.functional.cross_entropy(model(inputs[idx]), labels[idx]).backward()
        opt.step()
    return model.eval()


def export_float_model(model: nn.Module, sample_shape: tuple[int, ...], path: str) -> str:
    """Brevitas' QONNX export with float input, as a researcher's file would be."""
    from brevitas.export import export_qonnx

    export_qonnx(model.eval(), torch.rand(1, *sample_shape), export_path=path, dynamo=False)
    return path
