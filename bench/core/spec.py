"""Typed, validated description of one run point.

Everything that determines a result is a field here, so the hash of a spec (minus the
fields that only say where files live) is what names the run and its cached artifacts.
Validation happens before any work starts and fails with one line that says what was
wrong and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bench.core import spec_content
from bench.core.devices import BOARDS, get_board
from bench.core.errors import SpecError
from bench.core.folding_spec import (
    DEFAULT_PE,
    FOLDING_STRATEGIES,
    FoldingSpec,
    LayersFolding,
    UniformFolding,
)
from bench.core.hardware_choices import DSP_POLICIES, IMPL_STYLES, MVU_KINDS, RTL_TARGETS, TARGETS
from bench.core.limits import (
    CLK_NS_RANGE,
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_LR,
    MAX_PARALLEL,
    MAX_SEED,
    MAX_TARGET_FPS,
    float32_mapping,
    not_bool,
    short,
    within,
)

# Kept in sync with models/ by a test; duplicated here so that validating a spec does not
# import torch (a cached run must answer in well under a second of Python start-up).
MODEL_NAMES = ("tfc", "sfc", "lfc", "cnv", "lenet5")
# Models whose input width follows the image: these can take images zero-padded to a
# square frame (`input_size`), as the paper's code did to feed 28x28 MNIST to a TFC
# whose foldings were written for 1,024 inputs. The convolutional models pad on their own.
MLP_MODELS = ("tfc", "sfc", "lfc")
MAX_INPUT_SIZE = 1024
DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "cifar10")
# Beyond the built-in data sets: a user's npz file, and none (hardware only, external models).
EXTRA_DATASETS: tuple[str, ...] = ("npz", "none")
# (C, H, W) of the built-in data sets, to refuse an external model that cannot take them
# before any work (an npz file's shape is checked once it is loaded).
DATASET_SHAPES: dict[str, tuple[int, int, int]] = {
    "digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
}
TRAIN_DEVICES = ("auto", "cpu", "cuda")
WEIGHT_QUANTS = ("int", "binary", "ternary", "pot")
MIN_BITS, MAX_BITS = 1, 8
POT_MAX_BITS = 5


DEFAULTS: dict[str, Any] = {
    "model": "tfc",
    "dataset": "digits",
    "weight_bits": 4,
    "act_bits": 4,
    "weight_quant": "int",
    "pe": DEFAULT_PE,
    "simd": None,
    "board": "Pynq-Z1",
    "clk_ns": 10.0,
    "epochs": 40,
    "seed": 0,
}


# What each numeric field accepts, for error messages about values that are not numbers.
FIELD_HINTS = {
    "weight_bits": f"an integer in {MIN_BITS}..{MAX_BITS}",
    "act_bits": f"an integer in {MIN_BITS}..{MAX_BITS}",
    "pe": f"an integer in 1..{MAX_PARALLEL}",
    "simd": f"an integer in 1..{MAX_PARALLEL}",
    "epochs": f"an integer in 1..{MAX_EPOCHS}",
    "batch_size": f"an integer in 1..{MAX_BATCH}",
    "seed": f"an integer in 0..{MAX_SEED}",
    "clk_ns": f"a clock period in ns, {CLK_NS_RANGE[0]:g}..{CLK_NS_RANGE[1]:g}",
    "lr": f"a number in (0, {MAX_LR:g}]",
    "fps": f"an integer in 1..{MAX_TARGET_FPS}",
    "input_size": f"an integer in 1..{MAX_INPUT_SIZE}",
    "hw_accuracy_samples": "an integer >= 0 (0 skips hw_accuracy)",
    "input_scale": "a nonzero number",
    "input_offset": "a number",
}

# Fields added for external models, the hardware graph's accuracy and GPU training. At
# these values a spec means exactly what it meant before they existed, so they are left
# out of the run's identity and cache keys: existing run ids and checkpoints stay valid.
NEUTRAL_FIELDS: dict[str, Any] = {
    "qonnx": None, "qonnx_sha256": None, "input_size": None, "input_scale": None,
    "input_offset": None, "hw_accuracy_samples": None, "train_device": "auto", "augment": None,
    "mvu": "finn", "data_sha256": None, "factory_sha256": None, "dsp": "auto",
    "impl": "hls",
}


class RunSpec(BaseModel):
    """One point of the design space: what to train and how to fold it.

    An external QONNX model (`qonnx`, a path) is not trained: its `model` is the file's
    label (`qonnx:<name>@<hash8>`), its bit widths are read from the graph (None for a
    graph without quantizers, which then fails in its run) and `qonnx_sha256` ties the
    run to the file's content. An external Brevitas module is a `model` of the form
    `package.module:factory`, trained like the built-in ones.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = DEFAULTS["model"]
    dataset: str = DEFAULTS["dataset"]
    weight_bits: int | None = DEFAULTS["weight_bits"]
    act_bits: int | None = DEFAULTS["act_bits"]
    weight_quant: str | None = DEFAULTS["weight_quant"]
    input_bits: int = 8
    # Input geometry: None feeds images as the data set has them; N zero-pads each image
    # to an N x N frame before it reaches the network (and the accelerator), MLPs only.
    input_size: int | None = None
    # Training recipe (the paper's: Adam, lr 0.01, batch 100, lr x0.1 late in training).
    epochs: int = DEFAULTS["epochs"]
    seed: int = DEFAULTS["seed"]
    batch_size: int = 100
    lr: float = 0.01
    fp32_baseline: bool = False
    # Folding and target.
    folding: FoldingSpec = Field(default_factory=UniformFolding)
    board: str = DEFAULTS["board"]
    clk_ns: float = DEFAULTS["clk_ns"]
    # How far to take the build: FINN's estimates, or (with Vivado) synthesis / a bitfile.
    target: str = "estimate"
    # The matrix-vector layers: FINN's MVAU, or our unit (int/PoT datapath) where it fits.
    mvu: str = "finn"
    # Measured hardware: multipliers in DSPs where Yosys infers them, or "off" (in LUTs).
    dsp: str = "auto"
    # FINN's layers: RTL wherever FINN can (costs calibrated on Yosys), or FINN's default.
    impl: str = "rtl"
    # Where the data lives is not part of the run id; what its files hold is (data_sha256,
    # filled from them when the spec is made).
    data_dir: str | None = None
    data_sha256: str | None = None
    # External QONNX model: where the file is (not identity) and its content hash (identity).
    qonnx: str | None = None
    qonnx_sha256: str | None = None
    # How data becomes the model's input: x * input_scale + input_offset. None: the
    # graph's own input if it takes integers, else the data set's default (pixels / 255).
    input_scale: float | None = None
    input_offset: float | None = None
    # An external Brevitas module (`model` = package.module:factory): the hash of its
    # source and of the user's modules it imports, filled when the spec is made.
    factory_sha256: str | None = None
    # Test samples the hardware graph's accuracy is measured on (None: all; 0: skipped).
    hw_accuracy_samples: int | None = None
    # Training: where (auto picks CUDA when available), and data augmentation (None: the
    # data set's default, on for cifar10).
    train_device: str = "auto"
    augment: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _content(cls, data: Any) -> Any:
        """Fill what the files a spec names contain: an external model's label, hash and
        bit widths, the data files' hash and a user module's source hash."""
        if not isinstance(data, dict):
            return data
        return spec_content.fill(data, DEFAULTS["dataset"])

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if v.startswith("qonnx:"):
            return v
        if ":" in v:
            return spec_content.factory_path(v)
        return _one_of(v.lower(), MODEL_NAMES, "model")

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        return _one_of(v.lower(), DATASETS + EXTRA_DATASETS, "dataset")

    @field_validator("train_device")
    @classmethod
    def _device(cls, v: str) -> str:
        return _one_of(v.lower(), TRAIN_DEVICES, "train device")

    @field_validator("hw_accuracy_samples")
    @classmethod
    def _hw_samples(cls, v: int | None) -> int | None:
        return v if v is None else within(v, 0, 10**9)

    @field_validator("input_scale", "input_offset")
    @classmethod
    def _mapping(cls, v: float | None, info: Any) -> float | None:
        return v if v is None else float32_mapping(v, nonzero=info.field_name == "input_scale")

    @field_validator("weight_quant")
    @classmethod
    def _quant(cls, v: str | None) -> str | None:
        return v if v is None else _one_of(v.lower(), WEIGHT_QUANTS, "weight quantizer")

    @field_validator("weight_bits", "act_bits")
    @classmethod
    def _bits(cls, v: int | None) -> int | None:
        if v is not None and not MIN_BITS <= v <= MAX_BITS:
            raise ValueError(f"must be in {MIN_BITS}..{MAX_BITS}, got {v}")
        return v

    _no_bools = field_validator(
        "weight_bits", "act_bits", "input_bits", "input_size", "epochs", "seed",
        "batch_size", "lr", "clk_ns", "hw_accuracy_samples", "input_scale", "input_offset",
        mode="before",
    )(lambda cls, v: not_bool(v))

    @field_validator("input_size")
    @classmethod
    def _input_size(cls, v: int | None) -> int | None:
        return v if v is None else within(v, 1, MAX_INPUT_SIZE)

    @field_validator("epochs")
    @classmethod
    def _epochs(cls, v: int) -> int:
        return within(v, 1, MAX_EPOCHS)

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, v: int) -> int:
        return within(v, 1, MAX_BATCH)

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int) -> int:
        return within(v, 0, MAX_SEED)

    @field_validator("lr")
    @classmethod
    def _lr(cls, v: float) -> float:
        if not 0 < v <= MAX_LR:  # also false for NaN
            raise ValueError(f"must be in (0, {MAX_LR:g}], got {v}")
        return v

    @field_validator("clk_ns")
    @classmethod
    def _clock(cls, v: float) -> float:
        return within(v, *CLK_NS_RANGE)

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        return _one_of(v.lower(), TARGETS, "target")

    @field_validator("dsp")
    @classmethod
    def _dsp(cls, v: str) -> str:
        return _one_of(v.lower(), DSP_POLICIES, "dsp")

    @field_validator("mvu")
    @classmethod
    def _mvu(cls, v: str) -> str:
        return _one_of(v.lower(), MVU_KINDS, "mvu")

    @field_validator("impl")
    @classmethod
    def _impl(cls, v: str) -> str:
        return _one_of(v.lower(), IMPL_STYLES, "impl")

    @field_validator("board")
    @classmethod
    def _board(cls, v: str) -> str:
        try:
            return get_board(v).name
        except ValueError:
            raise ValueError(f"unknown board {short(v)}; allowed: {', '.join(BOARDS)}") from None

    @model_validator(mode="after")
    def _pot_bits(self) -> RunSpec:
        # n-bit power-of-two weights become INT(2^(n-1)) integers in FINN: past 5 bits
        # that is wider than the integer weights it is meant to replace.
        if (self.weight_quant == "pot" and self.weight_bits is not None
                and self.weight_bits > POT_MAX_BITS):
            raise ValueError(
                f"pot weights need 1..{POT_MAX_BITS} bits, got weight_bits={self.weight_bits}"
            )
        return self

    @model_validator(mode="after")
    def _dsp_target(self) -> RunSpec:
        if self.dsp != "auto" and self.target not in RTL_TARGETS and self.mvu != "rtl":
            raise ValueError(f"dsp {self.dsp} applies to measured hardware (target rtl) or "
                             f"our unit (mvu rtl), not target {self.target}, mvu {self.mvu}")
        return self

    @model_validator(mode="after")
    def _mvu_targets(self) -> RunSpec:
        # FINN's Vivado flow packages its own layers as IP; ours is measured with the
        # open tools only, so a Vivado build of it would silently be FINN's MVAU instead.
        if self.mvu == "rtl" and self.target in ("synth", "bitfile"):
            raise ValueError(
                f"mvu rtl works with target estimate or rtl, not {self.target} (FINN's "
                "Vivado flow cannot package our unit; use --mvu finn for Vivado builds)"
            )
        return self

    @model_validator(mode="after")
    def _input_size_for_mlps(self) -> RunSpec:
        if self.input_size is not None and self.model not in MLP_MODELS:
            raise ValueError(
                f"input_size applies to the MLPs ({', '.join(MLP_MODELS)}); {self.model} "
                "pads its input to a fixed frame itself"
            )
        return self

    @model_validator(mode="after")
    def _external_consistent(self) -> RunSpec:
        if self.model.startswith("qonnx:") and self.qonnx is None:
            raise ValueError("a qonnx: model needs the file (qonnx)")
        if not self.is_external:
            if self.input_scale is not None or self.input_offset is not None:
                raise ValueError("input_scale and input_offset apply to external QONNX models "
                                 "(qonnx) only; a model trained here takes pixels / 255")
            if self.weight_bits is None or self.act_bits is None or self.weight_quant is None:
                raise ValueError("weight_bits, act_bits and weight_quant are required")
            if self.dataset == "none":
                raise ValueError("dataset 'none' is for external QONNX models (a model that "
                                 "is trained needs data)")
        elif self.fp32_baseline:
            raise ValueError("fp32_baseline needs training; an external QONNX model has none")
        if self.dataset == "none" and self.target in RTL_TARGETS:
            raise ValueError(f"target {self.target} simulates test samples; dataset none has none")
        shape = DATASET_SHAPES.get(self.dataset)
        if self.is_external and shape is not None:
            from bench.core import qonnx_file

            check_input_shape(qonnx_file.describe(self.qonnx).input_shape,  # type: ignore[arg-type]
                              shape, self.dataset)
        return self

    @property
    def is_external(self) -> bool:
        """An external QONNX model: not trained, its file plays the role of the export."""
        return self.qonnx is not None

    @property
    def has_data(self) -> bool:
        return self.dataset != "none"

    @property
    def folding_strategy(self) -> str:
        return self.folding.strategy

    # -- identity -------------------------------------------------------------------------

    def training_fields(self) -> dict[str, Any]:
        """What determines the trained weights (not the folding or the target)."""
        return _without_neutral(self.model_dump(
            include={
                "model", "dataset", "weight_bits", "act_bits", "weight_quant", "input_bits",
                "input_size", "epochs", "seed", "batch_size", "lr", "input_scale",
                "input_offset", "augment", "qonnx_sha256", "data_sha256", "factory_sha256",
            }
        ))

    def identity_fields(self) -> dict[str, Any]:
        # Asking for the FP32 baseline adds a number to the same run; it is not a new run.
        # Where the external file or the data lives is not identity either; the content
        # hashes (qonnx_sha256, data_sha256) are.
        # Images as the data set has them (no input_size) hash as before the field existed.
        fields = _without_neutral(self.model_dump(exclude={"data_dir", "fp32_baseline"}))
        fields.pop("qonnx", None)
        if isinstance(self.folding, UniformFolding):
            fields["folding"]["simd"] = self.folding.effective_simd
        if isinstance(self.folding, LayersFolding):
            del fields["folding"]["file"]
        return fields

    def preparation_fields(self) -> dict[str, Any]:
        """What determines everything before folding: the trained model and the target."""
        return {
            **self.training_fields(), "board": self.board, "clk_ns": self.clk_ns,
            "fp32_baseline": self.fp32_baseline, "target": self.target,
            **_without_neutral({"hw_accuracy_samples": self.hw_accuracy_samples,
                                "train_device": self.train_device, "mvu": self.mvu,
                                "dsp": self.dsp, "impl": self.impl}),
        }

    def baseline_fields(self) -> dict[str, Any]:
        """What determines the FP32 baseline: the recipe, not the bit widths."""
        fields = self.training_fields()
        for key in ("weight_bits", "act_bits", "weight_quant"):
            del fields[key]
        return fields

    def run_id(self) -> str:
        """Readable prefix plus a hash of everything that determines the result."""
        digest = stable_hash(self.identity_fields())[:10]
        model = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.model).strip("-")
        geometry = "" if self.input_size is None else f"-in{self.input_size}"
        return (
            f"{model}-{self.dataset}{geometry}-w{self.weight_bits or 'x'}"
            f"a{self.act_bits or 'x'}-{self.weight_quant or 'float'}"
            f"-{self.folding.label()}-{self.board}-{digest}"
        )


def _without_neutral(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items()
            if not (k in NEUTRAL_FIELDS and v == NEUTRAL_FIELDS[k])}


def check_input_shape(graph_shape: tuple[int, ...], data_shape: tuple[int, int, int],
                      dataset: str) -> None:
    """An external model's input must take one sample of the data: (1, C, H, W) or flat."""
    sample = tuple(graph_shape[1:])
    if sample == tuple(data_shape) or sample == (int(np.prod(data_shape)),):
        return
    raise ValueError(
        f"the model's input shape {tuple(graph_shape)} does not fit {dataset}'s samples "
        f"(C, H, W) = {tuple(data_shape)}; expected (1, {', '.join(map(str, data_shape))}) "
        f"or (1, {int(np.prod(data_shape))})"
    )


def source_hash(*paths: Path) -> str:
    """A short hash of source files (names and contents): code changes invalidate caches."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def stable_hash(obj: Any) -> str:
    """SHA-256 of a JSON rendering with sorted keys: equal inputs give equal keys anywhere."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {short(value)}; allowed: {', '.join(allowed)}")
    return value


def make_spec(**fields: Any) -> RunSpec:
    """Build a RunSpec, turning pydantic's multi-line report into one SpecError line."""
    fields = {k: v for k, v in fields.items() if v is not None}
    pe, simd = fields.pop("pe", None), fields.pop("simd", None)
    if pe is not None or simd is not None:
        if "folding" in fields:
            raise SpecError("give either pe/simd or a folding, not both")
        fields["folding"] = {
            "strategy": "uniform", "pe": DEFAULTS["pe"] if pe is None else pe, "simd": simd,
        }
    try:
        return RunSpec(**fields)
    except ValidationError as err:
        raise SpecError(describe_validation_error(err)) from None


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = [str(x) for x in e["loc"] if str(x) not in FOLDING_STRATEGIES]
        if loc[:1] == ["folding"] and len(loc) > 1:
            loc = loc[1:]  # "folding.pe" reads better as "pe" for the CLI's --pe
        field = ".".join(loc) or "spec"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] in ("int_parsing", "int_parsing_size", "float_parsing", "int_from_float",
                         "int_type", "float_type"):
            msg = f"must be {FIELD_HINTS.get(field, 'a number')}, got {short(e.get('input'))}"
        elif e["type"] == "union_tag_invalid":
            msg = f"unknown folding strategy; allowed: {', '.join(FOLDING_STRATEGIES)}"
        elif e["type"] == "extra_forbidden":
            msg = "is not a known field"
        parts.append(f"{field}: {msg}")
    return "; ".join(parts)


def resolve_data_dir(data_dir: str | None) -> Path | None:
    return Path(data_dir).expanduser() if data_dir else None
