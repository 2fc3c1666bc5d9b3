"""Fully connected networks of FINN's examples: TFC, SFC, LFC.

Three hidden layers of 64 (TFC), 256 (SFC) or 1024 (LFC) units with dropout 0.2; the
input width is whatever the data set's image flattens to (any CxHxW).
"""

from __future__ import annotations

from torch import nn

from models.blocks import Dense, build_network

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
    width: float = 1.0,
    name: str = "mlp",
) -> nn.Sequential:
    plan = (Dense(hidden, dropout),) * depth
    return build_network(
        name, plan, input_shape, num_classes, weight_bits, act_bits, weight_quant, width
    )


def tfc(**kwargs) -> nn.Sequential:
    return build_mlp(HIDDEN_WIDTHS["tfc"], name="tfc", **kwargs)


def sfc(**kwargs) -> nn.Sequential:
    return build_mlp(HIDDEN_WIDTHS["sfc"], name="sfc", **kwargs)


def lfc(**kwargs) -> nn.Sequential:
    return build_mlp(HIDDEN_WIDTHS["lfc"], name="lfc", **kwargs)
