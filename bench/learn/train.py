"""Quantization-aware training, seeded and deterministic, on the CPU or a CUDA GPU.

The recipe follows the paper's: Adam at lr 0.01, batch 100, and the learning rate divided
by 10 at 85 % and 92.5 % of training (epochs 34 and 37 of 40), so shorter runs keep the
same shape. CIFAR-10 trains with the augmentation of Brevitas' bnn_pynq trainer (random
crop with 4 pixels of zero padding, horizontal flip). On the CPU without augmentation
the operations are exactly those of the plain recipe, so results are bit-identical to
runs made before these options existed.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import inspect
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.core.errors import SpecError
from bench.core.progress import epoch_progress
from bench.core.spec import RunSpec
from bench.data.load import Dataset
from models import build_model, pot_blend_alpha, set_pot_blend
from models.blocks import FLOAT

CROP_PADDING = 4
DEFAULT_INPUT_SCALE = 1.0 / 255.0


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


def resolve_device(requested: str) -> str:
    """auto: CUDA when PyTorch sees a GPU, else the CPU; cuda without a GPU is an error."""
    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise SpecError("train device 'cuda' requested, but PyTorch sees no CUDA GPU "
                        f"(torch {torch.__version__}); use --device cpu or auto")
    if requested == "auto":
        return "cuda" if available else "cpu"
    return requested


def training_setup(spec: RunSpec) -> dict[str, Any]:
    """Where training runs and whether it augments: both recorded, both in the cache key."""
    augment = spec.augment if spec.augment is not None else spec.dataset == "cifar10"
    return {"device": resolve_device(spec.train_device), "augment": bool(augment)}


class InputMapping(nn.Module):
    """x * scale + offset: how data becomes an external module's input (FINN absorbs it)."""

    def __init__(self, scale: float, offset: float) -> None:
        super().__init__()
        self.scale, self.offset = scale, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.scale
        return x + self.offset if self.offset else x


def import_user_module(module_name: str) -> ModuleType:
    """The module of `--model package.module:factory`, also from the working directory.

    `python -m bench.cli` has the working directory first on sys.path, the installed
    `qnnbench` script has not; users expect their module next to them either way. The
    directory is appended (and stays, for the factory's own later imports and for the
    source hash) only when the module is found nowhere else, so a local file or folder
    never shadows an installed package that qnn-bench itself imports later (a checkout
    named `finn` or `models` in the working directory, say).
    """
    top = module_name.partition(".")[0]
    if top and importlib.util.find_spec(top) is None:
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.append(cwd)
            importlib.invalidate_caches()
    return importlib.import_module(module_name)


def load_factory(path: str) -> Any:
    """`package.module:factory` -> the callable; SpecError (one line) if it is not one."""
    module_name, _, name = path.partition(":")
    try:
        module = import_user_module(module_name)
    except Exception as err:  # any import failure is the user's to fix
        raise SpecError(f"model {path!r}: cannot import {module_name} "
                        f"({type(err).__name__}: {err})") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise SpecError(f"model {path!r}: {module_name} has no callable {name!r}")
    return factory


# The source hash each user module had when this process first built a model from it:
# Python keeps a module once imported, so a later spec for edited files would train the
# old code under the new identity.
_BUILT_FROM: dict[str, str | None] = {}


def build_external(spec: RunSpec, dataset: Dataset) -> nn.Module:
    """Call a user's factory with the input shape and class count (and the bit widths if
    it takes them), and put the input mapping in front of what it returns."""
    factory = load_factory(spec.model)
    first = _BUILT_FROM.setdefault(spec.model, spec.factory_sha256)
    if first != spec.factory_sha256:
        raise SpecError(f"model {spec.model!r}: its source changed after this process "
                        "imported it; run it in a new process")
    kwargs: dict[str, Any] = {"input_shape": dataset.input_shape,
                              "num_classes": dataset.num_classes}
    params = inspect.signature(factory).parameters
    for key in ("weight_bits", "act_bits"):
        if key in params:
            kwargs[key] = getattr(spec, key)
    module = factory(**kwargs)
    if not isinstance(module, nn.Module):
        raise SpecError(f"model {spec.model!r}: the factory returned "
                        f"{type(module).__name__}, not a torch.nn.Module")
    scale = spec.input_scale if spec.input_scale is not None else DEFAULT_INPUT_SCALE
    offset = spec.input_offset if spec.input_offset is not None else 0.0
    return nn.Sequential(InputMapping(scale, offset), module)


def random_crop_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """bnn_pynq's CIFAR-10 augmentation on a batch: a random 4-pixel-padded crop and a
    random horizontal flip per image (draws from its own generator, on the CPU)."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (CROP_PADDING,) * 4)
    dy = torch.randint(0, 2 * CROP_PADDING + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * CROP_PADDING + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    return torch.where(flip.to(x.device)[:, None, None, None], out.flip(-1), out)


def make_model(spec: RunSpec, dataset: Dataset, float_baseline: bool = False) -> nn.Module:
    if ":" in spec.model:
        return build_external(spec, dataset)
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
    setup = training_setup(spec)
    device = torch.device(setup["device"])
    if device.type == "cuda":  # deterministic cuBLAS needs a fixed workspace
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    seed_everything(spec.seed)
    model = make_model(spec, dataset, float_baseline).to(device)
    # The whole training set lives on the device: one copy, no loader per batch.
    x_train = torch.from_numpy(dataset.x_train).float().to(device)
    y_train = torch.from_numpy(dataset.y_train).to(device)
    augment = torch.Generator().manual_seed(spec.seed + 1) if setup["augment"] else None
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
                if device.type != "cpu":
                    idx = idx.to(device)
                batch = x_train[idx]
                if augment is not None:
                    batch = random_crop_flip(batch, augment)
                optimizer.zero_grad()
                loss = loss_fn(model(batch), y_train[idx])
                loss.backward()
                optimizer.step()
                loss_value = float(loss.detach())
            scheduler.step()
            advance(f"loss {loss_value:.3f}")
    model.to("cpu").eval()  # export, verification and evaluation run on the CPU
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
