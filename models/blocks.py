"""Building blocks shared by all model definitions.

Every network here takes 8-bit unsigned integer pixels (as a float tensor holding 0..255)
and scales them by 1/255 as its first operation. FINN streamlines that constant scale into
the first layer's thresholds, so the accelerator's input stays UINT8 instead of becoming a
float-threshold quantizer (which FINN estimates at thousands of LUTs).
"""

from __future__ import annotations

import torch
from brevitas.nn import QuantIdentity, QuantLinear
from torch import nn

from models.quantizers import act_quant_kwargs, weight_quant_kwargs

INPUT_SCALE = 1.0 / 255.0


class ScaleInput(nn.Module):
    """Maps integer pixels 0..255 to 0..1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * INPUT_SCALE


def quant_act(act_bits: int) -> nn.Module:
    return QuantIdentity(**act_quant_kwargs(act_bits), return_quant_tensor=False)


def quant_linear(
    in_features: int, out_features: int, weight_bits: int, weight_quant: str
) -> QuantLinear:
    # No bias: BatchNorm after each hidden layer supplies the offset, and FINN folds it
    # into the thresholds; the output layer stays a pure integer matrix product.
    return QuantLinear(
        in_features, out_features, bias=False, **weight_quant_kwargs(weight_quant, weight_bits)
    )


def dense_block(
    in_features: int, out_features: int, weight_bits: int, act_bits: int, weight_quant: str,
    dropout: float = 0.0,
) -> list[nn.Module]:
    """QuantLinear -> BatchNorm1d -> quantized activation (-> dropout during training)."""
    layers: list[nn.Module] = [
        quant_linear(in_features, out_features, weight_bits, weight_quant),
        nn.BatchNorm1d(out_features),
        quant_act(act_bits),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers
