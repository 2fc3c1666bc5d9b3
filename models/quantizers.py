"""Weight and activation quantizers, chosen by name and bit width.

Models ask this module for quantizer classes instead of importing Brevitas quantizers
directly, so that a new weight quantizer is one entry in `WEIGHT_QUANTIZERS` and every
model gets it.

Power-of-two weights (`pot`, the n-BQ-NN quantizer) work in two parts, both attached to a
layer by the keyword arguments `weight_quant_kwargs("pot", bits)` returns, so any Brevitas
QuantLinear / QuantConv2d can use them:

* `PotProjection`, a torch parametrization of the layer's `weight`: it maps the latent
  float weights to the PoT set (and, while training, blends them with it), so the tensor
  Brevitas quantizes and exports is already a PoT tensor;
* `PotIntGrid`, the Brevitas tensor quantizer: it declares the integer grid those values
  lie on exactly (signed, r+1 bits, per-channel scale s·2^-(r-1)), which is what the
  exported QONNX `Quant` node carries and what FINN turns into integer weights.

See docs/models.md for the math and the annealing schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from brevitas.inject import ExtendedInjector
from brevitas.proxy import WeightQuantProxyFromInjector
from brevitas.quant import (
    Int8WeightPerChannelFloat,
    SignedBinaryActPerTensorConst,
    SignedBinaryWeightPerTensorConst,
    SignedTernaryWeightPerTensorConst,
    Uint8ActPerTensorFloat,
)
from torch import nn
from torch.nn.utils import parametrize

MIN_BITS = 1
MAX_BITS = 8
# n-bit PoT weights need (2^(n-1)-1)+1 = 2^(n-1) bit integers in FINN: 5 bits -> INT16.
# Beyond that the integers (INT32 at 6 bits, INT128 at 8) are no longer a sensible datapath.
POT_MAX_BITS = 5


# -- uniform, binary, ternary ----------------------------------------------------------------


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


# -- power of two (n-BQ-NN) ------------------------------------------------------------------


def pot_exponents(bits: int) -> int:
    """r = 2^(n-1) - 1: how many nonzero magnitudes {2^-i·s : i = 0..r-1} n bits encode."""
    return 2 ** (bits - 1) - 1


def _channel_max(w: torch.Tensor) -> torch.Tensor:
    """max |w| per output channel (dim 0 of Linear and Conv weights), kept broadcastable."""
    return w.abs().amax(dim=tuple(range(1, w.dim())), keepdim=True)


def pot_quantize(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Nearest power-of-two level of every weight, per output channel.

    The scale s of a channel is its largest magnitude, so the top level is always used.
    A weight of magnitude a·s goes to the level 2^-i·s (i = 0..r-1) nearest to it on the
    linear scale (between 2^-(i+1) and 2^-i the threshold is 0.75·2^-i), and to 0 below
    half the smallest level, 2^-r. The result is exact: every value is ±2^-i·s or 0.
    """
    r = pot_exponents(bits)
    w = w.detach()
    s = _channel_max(w)
    a = w.abs() / torch.where(s > 0, s, torch.ones_like(s))
    mantissa, exponent = torch.frexp(a)  # a = mantissa·2^exponent, mantissa in [0.5, 1)
    exponent = exponent - (mantissa < 0.75).to(exponent.dtype)
    level = torch.ldexp(torch.ones_like(a), exponent).clamp(2.0 ** -(r - 1), 1.0)
    level = torch.where(a < 2.0**-r, torch.zeros_like(level), level)
    return torch.sign(w) * level * s


class PotProjection(nn.Module):
    """Parametrization of a layer's weight: latent float W -> power-of-two weight.

    Training forward: (1-α)·Q(W) + α·W, the n-BQ-NN reconstructed weight; the backward
    pass treats Q as the identity (straight-through), so dW̃/dW = 1 at every α.
    Evaluation forward: exactly Q(W), whatever α is.
    While the graph is traced for ONNX export, Q(W) is handed over as a constant, so the
    exported initializer holds the PoT values themselves (not the ops computing them).
    """

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = bits
        self.alpha = 0.0

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        q = pot_quantize(w, self.bits)
        if torch.jit.is_tracing():
            return torch.from_numpy(q.cpu().numpy().copy()).to(w.device)
        if not self.training:
            return q
        return w + ((1.0 - self.alpha) * (q - w)).detach()

    def extra_repr(self) -> str:
        return f"bits={self.bits}, r={pot_exponents(self.bits)}, alpha={self.alpha}"


class PotIntGrid(nn.Module):
    """Brevitas tensor quantizer for PoT weights: declares their exact integer grid.

    Its input is the parametrized weight (PoT values, or the training blend). With
    s = max |w| per channel, every level 2^-i·s is the integer 2^(r-1-i) times
    s·2^-(r-1), so the weights are signed (r+1)-bit integers with that per-channel scale
    and the QONNX Quant node reproduces them exactly. Constructing it attaches
    `PotProjection` to the layer, which is how `weight_quant_kwargs("pot", n)` alone
    turns any QuantLinear/QuantConv2d into a PoT layer.
    """

    def __init__(self, pot_bits: int, module: Any) -> None:
        super().__init__()
        self.bits = pot_bits
        self.r = pot_exponents(pot_bits)
        layers = module if isinstance(module, tuple) else (module,)
        for layer in layers:
            if not parametrize.is_parametrized(layer, "weight"):
                parametrize.register_parametrization(layer, "weight", PotProjection(pot_bits))

    def forward(self, w: torch.Tensor) -> tuple[torch.Tensor, ...]:
        top = _channel_max(w.detach())
        scale = torch.where(top > 0, top, torch.ones_like(top)) * 2.0 ** -(self.r - 1)
        zero_point = torch.zeros((), dtype=w.dtype, device=w.device)
        bit_width = torch.tensor(float(self.r + 1), device=w.device)
        return w, scale, zero_point, bit_width


class PotWeightQuant(ExtendedInjector):
    """Injector for `weight_quant=`: n-bit power-of-two weights (n set by `pot_bits`)."""

    proxy_class = WeightQuantProxyFromInjector
    tensor_quant = PotIntGrid
    signed = True
    narrow_range = True
    pot_bits = 3


def _pot_weight(bits: int) -> dict[str, Any]:
    # One bit leaves no exponent (r = 0): like n-BQ-NN's 1-bit case, that is binary ±s.
    if bits == 1:
        return _binary_weight(bits)
    if bits > POT_MAX_BITS:
        raise ValueError(
            f"pot weights need 1..{POT_MAX_BITS} bits (n bits become "
            f"INT{2 ** (bits - 1)} integers in FINN), got {bits}"
        )
    return {"weight_quant": PotWeightQuant, "weight_pot_bits": bits}


def set_pot_blend(model: nn.Module, alpha: float) -> int:
    """Set the blend α of every PoT layer in `model`; returns how many layers it touched.

    α = 1 trains on the float weights, α = 0 on the exact PoT weights; evaluation and
    export always use the exact PoT weights. Models without PoT layers are left alone.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"PoT blend alpha must be in [0, 1], got {alpha!r}")
    layers = [m for m in model.modules() if isinstance(m, PotProjection)]
    for layer in layers:
        layer.alpha = float(alpha)
    return len(layers)


def pot_blend_alpha(epoch: int, epochs: int, anneal_fraction: float = 0.75) -> float:
    """α for 0-based `epoch` of `epochs`: linear from 1 down to 0 over the first
    `anneal_fraction` of training, then 0, so the last epochs (always at least the last
    one) train the exact PoT network."""
    anneal_epochs = max(1, math.ceil(anneal_fraction * epochs))
    return max(0.0, 1.0 - (epoch + 1) / anneal_epochs)


# name -> function(bits) returning the keyword arguments of a QuantLinear/QuantConv2d.
WEIGHT_QUANTIZERS: dict[str, Callable[[int], dict[str, Any]]] = {
    "int": _int_weight,
    "binary": _binary_weight,
    "ternary": _ternary_weight,
    "pot": _pot_weight,
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
