"""Quantization-aware training on the CPU, seeded and deterministic.

The recipe follows the paper's: Adam at lr 0.01, batch 100, and the learning rate divided
by 10 at 85 % and 92.5 % of training (epochs 34 and 37 of 40), so shorter runs keep the
same shape.
"""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bench.core.progress import epoch_progress
from bench.core.spec import RunSpec
from bench.stages.data import Dataset
from models import build_model, pot_blend_alpha, set_pot_blend
from models.blocks import FLOAT


@dataclass
class TrainResult:
    model: nn.Module
    accuracy: float
    final_loss: float


# Float sums in PyTorch depend on how many threads split them, so the same spec trained
# with a different thread count gives (slightly) different weights, thresholds and hence
# FINN bit widths. One thread everywhere makes records identical whatever runs them
# (serial, --jobs, Dask workers with any --nthreads); parallelism comes from running
# several points at once. Measured here it is also faster for these small models.
TRAIN_THREADS = 1


@contextlib.contextmanager
def pinned_threads() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def lr_milestones(epochs: int) -> list[int]:
    return sorted({max(1, round(epochs * 0.85)), max(1, round(epochs * 0.925))})


def make_model(spec: RunSpec, dataset: Dataset, float_baseline: bool = False) -> nn.Module:
    return build_model(
        spec.model,
        input_shape=dataset.input_shape,
        num_classes=dataset.num_classes,
        weight_bits=spec.weight_bits,
        act_bits=spec.act_bits,
        weight_quant=FLOAT if float_baseline else spec.weight_quant,
    )


@pinned_threads()
def train(
    spec: RunSpec, dataset: Dataset, show_progress: bool = True, float_baseline: bool = False
) -> TrainResult:
    """Train the spec's quantized model, or with `float_baseline` its unquantized twin."""
    seed_everything(spec.seed)
    model = make_model(spec, dataset, float_baseline)
    x_train = torch.from_numpy(dataset.x_train).float()
    y_train = torch.from_numpy(dataset.y_train)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=lr_milestones(spec.epochs), gamma=0.1
    )
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(spec.seed)
    loss_value = float("nan")
    label = "training FP32" if float_baseline else "training"
    with epoch_progress(spec.epochs, label, enabled=show_progress) as advance:
        for epoch in range(spec.epochs):
            # Power-of-two weights train on a float/PoT blend annealed to pure PoT (n-BQ-NN's
            # reconstructed gradient); a no-op for the other quantizers.
            set_pot_blend(model, pot_blend_alpha(epoch, spec.epochs))
            model.train()
            order = torch.randperm(len(x_train), generator=generator)
            for start in range(0, len(order), spec.batch_size):
                idx = order[start : start + spec.batch_size]
                if len(idx) < 2:  # BatchNorm cannot train on a single sample
                    continue
                optimizer.zero_grad()
                loss = loss_fn(model(x_train[idx]), y_train[idx])
                loss.backward()
                optimizer.step()
                loss_value = float(loss.detach())
            scheduler.step()
            advance(f"loss {loss_value:.3f}")
    model.eval()
    return TrainResult(model=model, accuracy=evaluate(model, dataset), final_loss=loss_value)


@torch.no_grad()
@pinned_threads()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    model.eval()
    outs = [
        model(torch.from_numpy(x[i : i + batch_size]).float()).numpy()
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(outs)


@torch.no_grad()
@pinned_threads()
def predict_float64(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The model's outputs computed in float64: the reference for bit-exact checks.

    The accelerator computes exact integer sums; PyTorch's float32 sums of hundreds of
    8-bit products round, and a pre-activation that lands within that rounding of a
    quantization threshold flips by one step. In float64 that rounding is a billion
    times smaller, so a remaining mismatch is a real one.
    """
    reference = copy.deepcopy(model).double().eval()
    return reference(torch.from_numpy(x).double()).numpy()


def evaluate(model: nn.Module, dataset: Dataset) -> float:
    logits = predict(model, dataset.x_test)
    return float((logits.argmax(axis=1) == dataset.y_test).mean())
