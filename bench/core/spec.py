"""Typed, validated description of one run point.

Everything that determines a result is a field here, so the hash of a spec (minus the
fields that only say where files live) is what names the run and its cached artifacts.
Validation happens before any work starts and fails with one line that says what was
wrong and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bench.core.devices import BOARDS, get_board
from bench.core.errors import SpecError

# Kept in sync with models/ by a test; duplicated here so that validating a spec does not
# import torch (a cached run must answer in well under a second of Python start-up).
MODEL_NAMES = ("tfc", "sfc", "lfc", "cnv", "lenet5")
DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "cifar10")
WEIGHT_QUANTS = ("int", "binary", "ternary", "pot")
MIN_BITS, MAX_BITS = 1, 8
TARGETS = ("estimate", "rtl", "synth", "bitfile")
MVU_KINDS = ("finn", "rtl")  # FINN's MVAU, or our unit (bench/finn_flow/mvu_op.py)
POT_MAX_BITS = 5

# Bounds on numbers: what FINN, PyTorch and a clock can represent, so an absurd value is
# a one-line error before any work instead of a record nobody can tabulate.
MAX_PARALLEL = 2**16  # PE / SIMD (FINN's layer dimensions are far smaller)
MAX_SEED = 2**32 - 1  # numpy's seed range
CLK_NS_RANGE = (0.5, 100.0)  # 2 GHz .. 10 MHz
MAX_EPOCHS = 100_000
MAX_BATCH = 100_000
MAX_LR = 10.0
MAX_TARGET_FPS = 10**9

DEFAULTS: dict[str, Any] = {
    "model": "tfc",
    "dataset": "digits",
    "weight_bits": 4,
    "act_bits": 4,
    "weight_quant": "int",
    "pe": 4,
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
}


class UniformFolding(BaseModel):
    """Every layer asks for the same PE/SIMD and gets the largest valid value not above it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    strategy: Literal["uniform"] = "uniform"
    pe: int = DEFAULTS["pe"]
    simd: int | None = None

    _no_bools = field_validator("pe", "simd", mode="before")(lambda cls, v: _not_bool(v))

    @field_validator("pe", "simd")
    @classmethod
    def _parallelism(cls, v: int | None) -> int | None:
        return v if v is None else _within(v, 1, MAX_PARALLEL)

    @property
    def effective_simd(self) -> int:
        return self.simd if self.simd is not None else self.pe

    def label(self) -> str:
        return f"pe{self.pe}simd{self.effective_simd}"


class LayersFolding(BaseModel):
    """Per-layer PE/SIMD from a file in FINN's folding-config JSON format.

    The file's content (not its path) is part of the run's identity, so editing the file
    gives a new run and moving it does not.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    strategy: Literal["layers"] = "layers"
    file: str
    config: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("file")
    @classmethod
    def _exists(cls, v: str) -> str:
        return str(find_folding_file(v))

    def model_post_init(self, _context: Any) -> None:
        if not self.config:
            object.__setattr__(self, "config", load_folding_file(Path(self.file).expanduser()))

    def label(self) -> str:
        return f"layers-{Path(self.file).stem}"


class TargetFpsFolding(BaseModel):
    """FINN's own auto-folding (SetFolding) for a target throughput, for comparison."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    strategy: Literal["target_fps"] = "target_fps"
    fps: int

    _no_bools = field_validator("fps", mode="before")(lambda cls, v: _not_bool(v))

    @field_validator("fps")
    @classmethod
    def _positive(cls, v: int) -> int:
        return _within(v, 1, MAX_TARGET_FPS)

    def label(self) -> str:
        return f"fps{self.fps}"


class ParetoFolding(BaseModel):
    """Search per-layer foldings for the FPS-vs-LUT Pareto front within a device budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    strategy: Literal["pareto"] = "pareto"
    max_utilization: float = 0.8

    _no_bools = field_validator("max_utilization", mode="before")(lambda cls, v: _not_bool(v))

    @field_validator("max_utilization")
    @classmethod
    def _fraction(cls, v: float) -> float:
        if not 0 < v <= 1:
            raise ValueError(f"must be in (0, 1], got {v}")
        return v

    def label(self) -> str:
        return f"pareto{self.max_utilization:g}"


FoldingSpec = Annotated[
    UniformFolding | LayersFolding | TargetFpsFolding | ParetoFolding,
    Field(discriminator="strategy"),
]
FOLDING_STRATEGIES = ("uniform", "layers", "target_fps", "pareto")


# Folding files that ship with qnn-bench (the paper's and FINN's published ones); a bare
# file name such as `tfc_paper_a.json` finds them from any working directory.
FOLDINGS_DIR = Path(__file__).resolve().parents[1] / "foldings"


def packaged_foldings() -> list[str]:
    return sorted(p.name for p in FOLDINGS_DIR.glob("*.json"))


def find_folding_file(file: str) -> Path:
    """A folding file by path, or by the name of one that ships with qnn-bench."""
    path = Path(file).expanduser()
    if path.is_file():
        return path
    packaged = FOLDINGS_DIR / file
    if path.name == file and packaged.is_file():
        return packaged
    if path.exists():
        raise ValueError(f"folding file {file!r} is not a regular file")
    raise ValueError(
        f"folding file {file!r} does not exist (packaged ones: {', '.join(packaged_foldings())})"
    )


def load_folding_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read a FINN folding config; check its shape (layer names are checked on the graph)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read folding file {str(path)!r}: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"folding file {str(path)!r} must hold a JSON object")
    config = {}
    for node, attrs in data.items():
        if node == "Defaults" or node.startswith("_"):
            continue  # FINN's defaults section and our comment keys
        if not isinstance(attrs, dict):
            raise ValueError(f"folding file {str(path)!r}: entry {node!r} must be an object")
        for key in ("PE", "SIMD"):
            if key in attrs and (not isinstance(attrs[key], int) or attrs[key] < 1):
                raise ValueError(
                    f"folding file {str(path)!r}: {node}.{key} must be a positive integer, "
                    f"got {attrs[key]!r}"
                )
        config[node] = {k: v for k, v in attrs.items() if k in ("PE", "SIMD")}
    if not config:
        raise ValueError(f"folding file {str(path)!r} names no layers")
    return config


class RunSpec(BaseModel):
    """One point of the design space: what to train and how to fold it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = DEFAULTS["model"]
    dataset: str = DEFAULTS["dataset"]
    weight_bits: int = DEFAULTS["weight_bits"]
    act_bits: int = DEFAULTS["act_bits"]
    weight_quant: str = DEFAULTS["weight_quant"]
    input_bits: int = 8
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
    # Where the data lives does not change the result, so it is not part of the run id.
    data_dir: str | None = None

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        return _one_of(v.lower(), MODEL_NAMES, "model")

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        return _one_of(v.lower(), DATASETS, "dataset")

    @field_validator("weight_quant")
    @classmethod
    def _quant(cls, v: str) -> str:
        return _one_of(v.lower(), WEIGHT_QUANTS, "weight quantizer")

    @field_validator("weight_bits", "act_bits")
    @classmethod
    def _bits(cls, v: int) -> int:
        if not MIN_BITS <= v <= MAX_BITS:
            raise ValueError(f"must be in {MIN_BITS}..{MAX_BITS}, got {v}")
        return v

    _no_bools = field_validator(
        "weight_bits", "act_bits", "input_bits", "epochs", "seed", "batch_size", "lr",
        "clk_ns", mode="before",
    )(lambda cls, v: _not_bool(v))

    @field_validator("epochs")
    @classmethod
    def _epochs(cls, v: int) -> int:
        return _within(v, 1, MAX_EPOCHS)

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, v: int) -> int:
        return _within(v, 1, MAX_BATCH)

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int) -> int:
        return _within(v, 0, MAX_SEED)

    @field_validator("lr")
    @classmethod
    def _lr(cls, v: float) -> float:
        if not 0 < v <= MAX_LR:  # also false for NaN
            raise ValueError(f"must be in (0, {MAX_LR:g}], got {v}")
        return v

    @field_validator("clk_ns")
    @classmethod
    def _clock(cls, v: float) -> float:
        return _within(v, *CLK_NS_RANGE)

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        return _one_of(v.lower(), TARGETS, "target")

    @field_validator("mvu")
    @classmethod
    def _mvu(cls, v: str) -> str:
        return _one_of(v.lower(), MVU_KINDS, "mvu")

    @field_validator("board")
    @classmethod
    def _board(cls, v: str) -> str:
        try:
            return get_board(v).name
        except ValueError:
            raise ValueError(f"unknown board {_short(v)}; allowed: {', '.join(BOARDS)}") from None

    @model_validator(mode="after")
    def _pot_bits(self) -> RunSpec:
        # n-bit power-of-two weights become INT(2^(n-1)) integers in FINN: past 5 bits
        # that is wider than the integer weights it is meant to replace.
        if self.weight_quant == "pot" and self.weight_bits > POT_MAX_BITS:
            raise ValueError(
                f"pot weights need 1..{POT_MAX_BITS} bits, got weight_bits={self.weight_bits}"
            )
        return self

    @property
    def folding_strategy(self) -> str:
        return self.folding.strategy

    # -- identity -------------------------------------------------------------------------

    def training_fields(self) -> dict[str, Any]:
        """What determines the trained weights (not the folding or the target)."""
        return self.model_dump(
            include={
                "model", "dataset", "weight_bits", "act_bits", "weight_quant", "input_bits",
                "epochs", "seed", "batch_size", "lr",
            }
        )

    def identity_fields(self) -> dict[str, Any]:
        # Asking for the FP32 baseline adds a number to the same run; it is not a new run.
        fields = self.model_dump(exclude={"data_dir", "fp32_baseline"})
        if self.mvu == "finn":  # the default leaves run ids from before the field as they were
            del fields["mvu"]
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
            **({"mvu": self.mvu} if self.mvu != "finn" else {}),
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
        return (
            f"{self.model}-{self.dataset}-w{self.weight_bits}a{self.act_bits}-{self.weight_quant}"
            f"-{self.folding.label()}-{self.board}-{digest}"
        )


def stable_hash(obj: Any) -> str:
    """SHA-256 of a JSON rendering with sorted keys: equal inputs give equal keys anywhere."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _not_bool(value: Any) -> Any:
    """YAML's `true` is not the number 1 here."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {str(value).lower()}")
    return value


def _within(value: Any, low: float, high: float) -> Any:
    if not low <= value <= high:  # also false for NaN
        raise ValueError(f"must be in {low:g}..{high:g}, got {value}")
    return value


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {_short(value)}; allowed: {', '.join(allowed)}")
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
            msg = f"must be {FIELD_HINTS.get(field, 'a number')}, got {_short(e.get('input'))}"
        elif e["type"] == "union_tag_invalid":
            msg = f"unknown folding strategy; allowed: {', '.join(FOLDING_STRATEGIES)}"
        elif e["type"] == "extra_forbidden":
            msg = "is not a known field"
        parts.append(f"{field}: {msg}")
    return "; ".join(parts)


def _short(value: Any, limit: int = 40) -> str:
    """A value for an error message, never longer than a line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def resolve_data_dir(data_dir: str | None) -> Path | None:
    return Path(data_dir).expanduser() if data_dir else None
