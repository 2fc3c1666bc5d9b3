"""CNV, the convolutional network of FINN's BNN-PYNQ examples (Brevitas' bnn_pynq CNV).

On a 32x32 image: 3x3 unpadded convolutions 64, 64 (32 -> 30 -> 28), 2x2 max pool,
128, 128 (14 -> 12 -> 10), max pool, 256, 256 (5 -> 3 -> 1), then dense 512, 512 and the
classifier; every layer is conv/linear -> BatchNorm -> quantized activation. Layer for
layer this is the network FINN's published CNV foldings were made for.

Smaller images (MNIST's 1x28x28, digits' 1x8x8) are zero-padded to 32x32 by the input
adapter (`blocks.pad_to`): a zero border on the integer image, i.e. the first convolution
gets the padding and FINN puts an FMPadding layer in front of it.
"""

from __future__ import annotations

from torch import nn

from models.blocks import Conv, Dense, Pool, build_network

INPUT_SIZE = 32
PLAN = (
    Conv(64), Conv(64), Pool(),
    Conv(128), Conv(128), Pool(),
    Conv(256), Conv(256),
    Dense(512), Dense(512),
)


def cnv(**kwargs) -> nn.Sequential:
    return build_network("cnv", PLAN, frame=INPUT_SIZE, **kwargs)
