"""Fully connected networks of FINN's examples: TFC, SFC, LFC.

They differ only in hidden width (64, 256, 1024; three hidden layers each), so one builder
serves all three; the input width is whatever the data set's image flattens to.
"""

from __future__ import annotations

from math import prod

from torch import nn

from models.blocks import ScaleInput, dense_block, quant_linear

HIDDEN_WIDTHS = {"tfc": 64, "sfc": 256, "lfc": 1024}


def build_mlp(
    hidden: int,
    input_shape: tuple[int, int, int],
    num_classes: int,
    weight_bits: int,
    act_bits: int,
    weight_quant: str = "int",
    depth: int = 3,
    dropout: float = 0.2,
) -> nn.Sequential:
    in_features = prod(input_shape)
    layers: list[nn.Module] = [ScaleInput(), nn.Flatten()]
    width = in_features
    for _ in range(depth):
        layers += dense_block(width, hidden, weight_bits, act_bits, weight_quant, dropout)
        width = hidden
    layers.append(quant_linear(width, num_classes, weight_bits, weight_quant))
    return nn.Sequential(*layers)


def tfc(**kwargs) -> nn.Sequential:
    return build_mlp(HIDDEN_WIDTHS["tfc"], **kwargs)


def sfc(**kwargs) -> nn.Sequential:
    return build_mlp(HIDDEN_WIDTHS["sfc"], **kwargs)


def lfc(**kwargs) -> nn.Sequential:
    return build_mlp(HIDDEN_WIDTHS["lfc"], **kwargs)
