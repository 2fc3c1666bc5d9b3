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
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bench.data import DATASETS
from bench.devices import BOARDS, get_board

# Kept in sync with models/ by a test; duplicated here so that validating a spec does not
# import torch (a cached run must answer in well under a second of Python start-up).
MODEL_NAMES = ("tfc", "sfc", "lfc")
WEIGHT_QUANTS = ("int", "binary", "ternary")
MIN_BITS, MAX_BITS = 1, 8

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
    "pe": "a positive integer",
    "simd": "a positive integer",
    "epochs": "a positive integer",
    "batch_size": "a positive integer",
    "seed": "a non-negative integer",
    "clk_ns": "a positive number (clock period in ns)",
    "lr": "a positive number",
}


class SpecError(ValueError):
    """A user-facing, one-line description of invalid input."""


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
    folding_strategy: str = "uniform"
    pe: int = DEFAULTS["pe"]
    simd: int | None = DEFAULTS["simd"]
    board: str = DEFAULTS["board"]
    clk_ns: float = DEFAULTS["clk_ns"]
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

    @field_validator("pe", "epochs", "batch_size")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be a positive integer, got {v}")
        return v

    @field_validator("simd")
    @classmethod
    def _simd(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(f"must be a positive integer, got {v}")
        return v

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"must be a non-negative integer, got {v}")
        return v

    @field_validator("lr", "clk_ns")
    @classmethod
    def _positive_float(cls, v: float) -> float:
        if not v > 0:
            raise ValueError(f"must be a positive number, got {v}")
        return v

    @field_validator("board")
    @classmethod
    def _board(cls, v: str) -> str:
        try:
            return get_board(v).name
        except ValueError:
            raise ValueError(f"unknown board {v!r}; allowed: {', '.join(BOARDS)}") from None

    @property
    def effective_simd(self) -> int:
        return self.simd if self.simd is not None else self.pe

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
        fields = self.model_dump(exclude={"data_dir"})
        fields["simd"] = self.effective_simd
        return fields

    def run_id(self) -> str:
        """Readable prefix plus a hash of everything that determines the result."""
        digest = stable_hash(self.identity_fields())[:10]
        return (
            f"{self.model}-{self.dataset}-w{self.weight_bits}a{self.act_bits}-{self.weight_quant}"
            f"-pe{self.pe}simd{self.effective_simd}-{self.board}-{digest}"
        )


def stable_hash(obj: Any) -> str:
    """SHA-256 of a JSON rendering with sorted keys: equal inputs give equal keys anywhere."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")
    return value


def make_spec(**fields: Any) -> RunSpec:
    """Build a RunSpec, turning pydantic's multi-line report into one SpecError line."""
    fields = {k: v for k, v in fields.items() if v is not None}
    try:
        return RunSpec(**fields)
    except ValidationError as err:
        raise SpecError(describe_validation_error(err)) from None


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        field = ".".join(str(x) for x in e["loc"]) or "spec"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] in ("int_parsing", "float_parsing", "int_from_float", "int_type"):
            msg = f"must be {FIELD_HINTS.get(field, 'a number')}, got {e.get('input')!r}"
        elif e["type"] == "extra_forbidden":
            msg = "is not a known field"
        parts.append(f"{field}: {msg}")
    return "; ".join(parts)


def resolve_data_dir(data_dir: str | None) -> Path | None:
    return Path(data_dir).expanduser() if data_dir else None
