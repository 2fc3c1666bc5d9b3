"""Brevitas model definitions. Imports torch and Brevitas only, never FINN or the harness.

`build_model(name, ...)` is the single entry point the harness uses.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from models.mlp import lfc, sfc, tfc
from models.quantizers import MAX_BITS, MIN_BITS, WEIGHT_QUANTIZERS

MODELS: dict[str, Callable[..., nn.Module]] = {"tfc": tfc, "sfc": sfc, "lfc": lfc}

__all__ = ["MAX_BITS", "MIN_BITS", "MODELS", "WEIGHT_QUANTIZERS", "build_model"]


def build_model(
    name: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    weight_bits: int,
    act_bits: int,
    weight_quant: str = "int",
) -> nn.Module:
    """Instantiate a registered model for inputs of shape (C, H, W) holding 0..255 pixels."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    return MODELS[name](
        input_shape=input_shape,
        num_classes=num_classes,
        weight_bits=weight_bits,
        act_bits=act_bits,
        weight_quant=weight_quant,
    )
