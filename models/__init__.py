"""Brevitas model definitions. Imports torch and Brevitas only, never FINN or the harness.

`build_model(name, ...)` is the single entry point the harness uses; `set_pot_blend` and
`pot_blend_alpha` are what a training loop calls once per epoch for power-of-two weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from models.cnv import cnv
from models.lenet import lenet5
from models.mlp import lfc, sfc, tfc
from models.quantizers import (
    MAX_BITS,
    MIN_BITS,
    WEIGHT_QUANTIZERS,
    pot_blend_alpha,
    set_pot_blend,
)

MODELS: dict[str, Callable[..., nn.Module]] = {
    "tfc": tfc, "sfc": sfc, "lfc": lfc, "cnv": cnv, "lenet5": lenet5,
}

__all__ = [
    "MAX_BITS", "MIN_BITS", "MODELS", "WEIGHT_QUANTIZERS", "build_model", "pot_blend_alpha",
    "set_pot_blend",
]


def build_model(
    name: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    weight_bits: int,
    act_bits: int,
    weight_quant: str = "int",
    **options: Any,
) -> nn.Module:
    """Instantiate a registered model for inputs of shape (C, H, W) holding 0..255 pixels.

    `options` go to the builder unchanged (e.g. `width=0.25` for a narrow test network);
    without them every model has its published layer widths. `weight_quant="float"` gives
    the unquantized baseline of the same architecture (bit widths are then ignored).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    return MODELS[name](
        input_shape=input_shape,
        num_classes=num_classes,
        weight_bits=weight_bits,
        act_bits=act_bits,
        weight_quant=weight_quant,
        **options,
    )
