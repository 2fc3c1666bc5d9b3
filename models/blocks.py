"""Building blocks shared by all model definitions, and the one builder they all use.

Every network here takes 8-bit unsigned integer pixels (as a float tensor holding 0..255)
and scales them by 1/255 as its first operation. FINN streamlines that constant scale into
the first layer's thresholds, so the accelerator's input stays UINT8 instead of becoming a
float-threshold quantizer (which FINN estimates at thousands of LUTs).

A model is a plan: a tuple of `Conv`, `Pool` and `Dense` steps that `build_network` turns
into an nn.Sequential (input scaling, optional zero padding of the image to a fixed frame,
the layers, a flatten before the first dense layer, and the classifier).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn

from models.quantizers import act_quant_kwargs, weight_quant_kwargs

INPUT_SCALE = 1.0 / 255.0
# Not a quantizer: the float baseline of the same architecture (plain layers, ReLU), trained
# with the same recipe to measure what quantization costs. It cannot be exported to FINN.
FLOAT = "float"


class ScaleInput(nn.Module):
    """Maps integer pixels 0..255 to 0..1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * INPUT_SCALE


def quant_act(act_bits: int, weight_quant: str = "int") -> nn.Module:
    if weight_quant == FLOAT:
        return nn.ReLU()
    return QuantIdentity(**act_quant_kwargs(act_bits), return_quant_tensor=False)


def quant_linear(
    in_features: int, out_features: int, weight_bits: int, weight_quant: str
) -> nn.Module:
    # No bias: BatchNorm after each hidden layer supplies the offset, and FINN folds it
    # into the thresholds; the output layer stays a pure integer matrix product.
    if weight_quant == FLOAT:
        return nn.Linear(in_features, out_features, bias=False)
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
        quant_act(act_bits, weight_quant),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


def quant_conv(
    in_channels: int, out_channels: int, kernel_size: int, weight_bits: int, weight_quant: str,
    padding: int | tuple[int, int] = 0,
) -> nn.Module:
    # No bias, as for quant_linear: the BatchNorm after every conv supplies the offset.
    if weight_quant == FLOAT:
        return nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False)
    return QuantConv2d(
        in_channels, out_channels, kernel_size, padding=padding, bias=False,
        **weight_quant_kwargs(weight_quant, weight_bits),
    )


def conv_block(
    in_channels: int, out_channels: int, kernel_size: int, weight_bits: int, act_bits: int,
    weight_quant: str, padding: int | tuple[int, int] = 0,
) -> list[nn.Module]:
    """QuantConv2d -> BatchNorm2d -> quantized activation."""
    return [
        quant_conv(in_channels, out_channels, kernel_size, weight_bits, weight_quant, padding),
        nn.BatchNorm2d(out_channels),
        quant_act(act_bits, weight_quant),
    ]


def max_pool() -> nn.Module:
    """2x2 max pooling (FINN: StreamingMaxPool), applied after the activation."""
    return nn.MaxPool2d(kernel_size=2)


def scaled(width: int, multiplier: float) -> int:
    """A layer width times a multiplier (tests use small ones), at least 1."""
    return max(1, round(width * multiplier))


def pad_to(input_shape: tuple[int, int, int], size: int, model: str) -> tuple[int, int]:
    """Input adapter of the convolutional models: zero padding that centres a CxHxW image
    in a size x size frame, as (rows, columns) on each side.

    Zero-padding the integer image and then running an unpadded convolution is the same
    computation as giving the first convolution this much zero padding, which is how the
    models apply it: FINN turns a padded convolution into FMPadding -> sliding window ->
    MVAU, and the 1/255 input scale still moves past it into the first thresholds.
    """
    shape = tuple(input_shape)
    if (
        len(shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in shape)
        or shape[1] > size
        or shape[2] > size
        or (size - shape[1]) % 2
        or (size - shape[2]) % 2
    ):
        raise ValueError(
            f"{model} takes (C, H, W) images with H, W <= {size} and {size} - H, {size} - W "
            f"even (zero-padded to {size}x{size}), e.g. (3, {size}, {size}), (1, 28, 28), "
            f"(1, 8, 8); got {input_shape!r}"
        )
    return (size - shape[1]) // 2, (size - shape[2]) // 2


# -- plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conv:
    """Unpadded QuantConv2d -> BatchNorm2d -> activation."""

    channels: int
    kernel: int = 3


@dataclass(frozen=True)
class Pool:
    """2x2 max pooling."""


@dataclass(frozen=True)
class Dense:
    """QuantLinear -> BatchNorm1d -> activation (-> dropout while training)."""

    features: int
    dropout: float = 0.0


Step = Conv | Pool | Dense


def build_network(
    name: str,
    plan: tuple[Step, ...],
    input_shape: tuple[int, int, int],
    num_classes: int,
    weight_bits: int,
    act_bits: int,
    weight_quant: str = "int",
    width: float = 1.0,
    frame: int | None = None,
) -> nn.Sequential:
    """Build `plan` for CxHxW inputs; widths are multiplied by `width` (default: as
    published). With `frame`, the image is zero-padded to frame x frame (see `pad_to`)."""
    check_shape(input_shape, name)
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{name}: num_classes must be a positive integer, got {num_classes!r}")
    if not width > 0:
        raise ValueError(f"{name}: width multiplier must be positive, got {width!r}")
    channels, height, wide = input_shape
    padding = (0, 0)
    if frame is not None:
        padding = pad_to(input_shape, frame, name)
        height = wide = frame
    layers: list[nn.Module] = [ScaleInput()]
    features = None  # set once the network is flat
    for step in plan:
        if isinstance(step, Conv):
            out = scaled(step.channels, width)
            layers += conv_block(
                channels, out, step.kernel, weight_bits, act_bits, weight_quant, padding
            )
            padding = (0, 0)
            channels, height, wide = out, height - step.kernel + 1, wide - step.kernel + 1
        elif isinstance(step, Pool):
            layers.append(max_pool())
            height, wide = height // 2, wide // 2
        else:
            if features is None:
                layers.append(nn.Flatten())
                features = channels * height * wide
            out = scaled(step.features, width)
            layers += dense_block(features, out, weight_bits, act_bits, weight_quant, step.dropout)
            features = out
        if height < 1 or wide < 1:
            raise ValueError(f"{name}: input shape {tuple(input_shape)} is too small")
    if features is None:
        layers.append(nn.Flatten())
        features = channels * height * wide
    layers.append(quant_linear(features, num_classes, weight_bits, weight_quant))
    return nn.Sequential(*layers)


def check_shape(input_shape: tuple[int, int, int], name: str) -> None:
    shape = tuple(input_shape) if isinstance(input_shape, tuple | list) else ()
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(
            f"{name}: input_shape must be (C, H, W) of positive integers, got {input_shape!r}"
        )
