"""Weight and activation quantizers, chosen by name and bit width.

Models ask this module for quantizer classes instead of importing Brevitas quantizers
directly, so that a new weight quantizer (e.g. power-of-two) is one entry in
`WEIGHT_QUANTIZERS` and every model gets it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from brevitas.quant import (
    Int8WeightPerChannelFloat,
    SignedBinaryActPerTensorConst,
    SignedBinaryWeightPerTensorConst,
    SignedTernaryWeightPerTensorConst,
    Uint8ActPerTensorFloat,
)

MIN_BITS = 1
MAX_BITS = 8


def _int_weight(bits: int) -> dict[str, Any]:
    # Narrow range keeps the integer grid symmetric (-(2^(b-1)-1) .. 2^(b-1)-1), which FINN
    # maps to the smallest signed integer type; a 1-bit "int" is the bipolar quantizer.
    if bits == 1:
        return _binary_weight(bits)
    return {"weight_quant": Int8WeightPerChannelFloat, "weight_bit_width": bits}


def _binary_weight(bits: int) -> dict[str, Any]:
    return {"weight_quant": SignedBinaryWeightPerTensorConst}


def _ternary_weight(bits: int) -> dict[str, Any]:
    return {"weight_quant": SignedTernaryWeightPerTensorConst}


# name -> function(bits) returning the keyword arguments of a QuantLinear/QuantConv2d.
WEIGHT_QUANTIZERS: dict[str, Callable[[int], dict[str, Any]]] = {
    "int": _int_weight,
    "binary": _binary_weight,
    "ternary": _ternary_weight,
}


def weight_quant_kwargs(name: str, bits: int) -> dict[str, Any]:
    """Keyword arguments that give a Brevitas layer the named weight quantizer."""
    check_bits(bits, "weight")
    if name not in WEIGHT_QUANTIZERS:
        raise ValueError(
            f"unknown weight quantizer {name!r}; allowed: {', '.join(WEIGHT_QUANTIZERS)}"
        )
    return WEIGHT_QUANTIZERS[name](bits)


def act_quant_kwargs(bits: int) -> dict[str, Any]:
    """Activation quantizer: bipolar sign at 1 bit, else unsigned (ReLU-like) with a
    learned scale, which FINN turns into a thresholding unit."""
    check_bits(bits, "activation")
    if bits == 1:
        return {"act_quant": SignedBinaryActPerTensorConst}
    return {"act_quant": Uint8ActPerTensorFloat, "bit_width": bits}


def check_bits(bits: int, what: str) -> None:
    if not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"{what} bits must be an integer in {MIN_BITS}..{MAX_BITS}, got {bits!r}")
