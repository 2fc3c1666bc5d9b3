"""LeNet-5 (LeCun et al. 1998), quantized.

On a 32x32 image: 5x5 convolution with 6 maps (32 -> 28), 2x2 pool, 5x5 convolution with
16 maps (14 -> 10), 2x2 pool (5x5x16 = 400 features), dense 120, 84 and the classifier.
The original's average-pool subsampling and tanh units are max pooling and the quantized
ReLU-like activation here (what FINN maps to StreamingMaxPool and thresholds), each after
BatchNorm; C3's partial connection table is a full convolution, as in most re-implementations.

As in the original, MNIST's 28x28 digits are zero-padded to 32x32, and so is every other
image up to 32x32 (digits' 8x8 too) by the same input adapter as CNV's.
"""

from __future__ import annotations

from torch import nn

from models.blocks import Conv, Dense, Pool, build_network

INPUT_SIZE = 32
PLAN = (
    Conv(6, kernel=5), Pool(),
    Conv(16, kernel=5), Pool(),
    Dense(120), Dense(84),
)


def lenet5(**kwargs) -> nn.Sequential:
    return build_network("lenet5", PLAN, frame=INPUT_SIZE, **kwargs)
