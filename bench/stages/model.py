"""Stages that give a run its model: the data, training, the FP32 twin, or a seeded
untrained model for studies that need only estimates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import DatasetError, SpecError
from bench.core.spec import RunSpec, resolve_data_dir
from bench.engine.stage import RunContext, Stage
from bench.stages.artifacts import Trained

# -- data and training ----------------------------------------------------------------------


def _load_data(ctx: RunContext, entry: Path | None) -> Any:
    from bench.data.dataset import zero_pad
    from bench.data.load import load_dataset

    if not ctx.spec.has_data:
        return None  # hardware only: verification runs on random inputs
    # An external model is not trained: only its test files are needed.
    data = load_dataset(ctx.spec.dataset, data_dir=resolve_data_dir(ctx.spec.data_dir),
                        test_only=ctx.spec.is_external)
    if data.x_test.dtype == np.int8 and not ctx.spec.is_external:
        # Training scales pixels 0..255 to 0..1; signed features have no such meaning.
        raise DatasetError(f"{ctx.spec.dataset}: int8 features are for external QONNX models "
                           "with a signed input (--qonnx); a model trained here takes uint8 "
                           "pixels 0..255")
    return zero_pad(data, ctx.spec.input_size)


def _recipe(ctx: RunContext) -> dict[str, Any]:
    from bench.data.load import fingerprint
    from bench.learn.train import TRAIN_THREADS, training_setup

    # Only what differs from the CPU recipe without augmentation enters the key, so the
    # checkpoints trained before these options existed are still found.
    setup = {k: v for k, v in training_setup(ctx.spec).items()
             if v != {"device": "cpu", "augment": False}[k]}
    return {"data": fingerprint(ctx["data"]), "threads": TRAIN_THREADS,
            "torch": ctx.versions["torch"],
            "brevitas": ctx.versions["brevitas"], **setup, **_factory_source(ctx)}


def _factory_source(ctx: RunContext) -> dict[str, str]:
    """An external Brevitas module is identified by its source and the user's modules it
    imports (the spec's `factory_sha256`); files edited since the spec was made are
    refused rather than trained under the old identity."""
    if ctx.spec.factory_sha256 is None:
        return {}
    from bench.core.user_code import factory_sha256

    if factory_sha256(ctx.spec.model) != ctx.spec.factory_sha256:
        raise SpecError(f"model {ctx.spec.model!r}: its source changed since this run "
                        "started; run it again")
    return {"factory": ctx.spec.model, "factory_source": ctx.spec.factory_sha256}


def _train_fields(ctx: RunContext, trained: Trained) -> dict[str, Any]:
    from bench.learn.train import training_setup

    external = ":" in ctx.spec.model
    return {"accuracy": trained.accuracy, "train_threads": _threads(),
            "model_source": f"brevitas:{ctx.spec.model}" if external else "zoo",
            "model_sha256": ctx.spec.factory_sha256,
            "train_device": training_setup(ctx.spec)["device"],
            "augment": training_setup(ctx.spec)["augment"]}


def _train(ctx: RunContext, entry: Path) -> dict[str, Any]:
    import torch

    from bench.learn.train import train

    result = train(ctx.spec, ctx["data"], ctx.show_progress)
    torch.save(result.model.state_dict(), entry / "model.pt")
    return {"accuracy": result.accuracy, "final_loss": result.final_loss}


def _open_trained(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> Trained:
    import torch

    from bench.learn.train import make_model

    model = make_model(ctx.spec, ctx["data"])
    model.load_state_dict(torch.load(entry / "model.pt", weights_only=True))
    return Trained(model.eval(), float(meta["accuracy"]))


def _untrained(ctx: RunContext, entry: Path) -> dict[str, Any]:
    return {"seed": ctx.spec.seed}  # nothing to store: the seed and the code determine it


def _open_untrained(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> Trained:
    """Rebuilt from its seed (Brevitas creates some scales lazily, so a state dict of a
    never-run model does not load back)."""
    import torch

    from bench.learn.train import make_model

    torch.manual_seed(int(meta["seed"]))
    return Trained(make_model(ctx.spec, ctx["data"]).eval(), None)


def _fp32(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.learn.train import train

    result = train(ctx.spec, ctx["data"], ctx.show_progress, float_baseline=True)
    return {"accuracy": result.accuracy}


def _threads() -> int:
    from bench.learn.train import TRAIN_THREADS

    return TRAIN_THREADS


def _require_training_setup(spec: RunSpec) -> None:
    """Before any work: an external module must import, a CUDA device must exist."""
    if spec.is_external or (":" not in spec.model and spec.train_device != "cuda"):
        return
    from bench.learn.train import load_factory, resolve_device

    if ":" in spec.model:
        load_factory(spec.model)
    resolve_device(spec.train_device)


# The models and the training loop determine every trained (or seeded) model.
MODEL_SOURCES = ("models", "bench.learn.train")

DATA = Stage("data", produce=_load_data, timed=False)

TRAIN = Stage(
    "train", produce=_train, open=_open_trained,
    determines=lambda ctx: {"spec": ctx.spec.training_fields(), **_recipe(ctx)},
    active=lambda spec: not spec.is_external,
    record=_train_fields,
    sources=MODEL_SOURCES,
    requires=_require_training_setup,
    describe=lambda ctx: (
        f"training {ctx.spec.model} W{ctx.spec.weight_bits}A{ctx.spec.act_bits} "
        f"({ctx.spec.weight_quant}) on {ctx.spec.dataset}, {ctx.spec.epochs} epochs"
    ),
)

# The unquantized twin, same recipe: shared by every bit width of the model.
FP32 = Stage(
    "fp32", produce=_fp32, open=lambda ctx, entry, meta: float(meta["accuracy"]),
    determines=lambda ctx: {"baseline": ctx.spec.baseline_fields(), **_recipe(ctx)},
    active=lambda spec: spec.fp32_baseline,
    record=lambda ctx, accuracy: {"fp32_accuracy": accuracy},
    sources=MODEL_SOURCES,
    describe=lambda ctx: f"training the FP32 baseline of {ctx.spec.model}, "
    f"{ctx.spec.epochs} epochs",
)

# A seeded, untrained model: estimates depend on architecture, bits and folding only.
UNTRAINED = Stage(
    "untrained", produce=_untrained, open=_open_untrained,
    determines=lambda ctx: {"spec": ctx.spec.training_fields(), **_recipe(ctx)},
    sources=MODEL_SOURCES,
)
