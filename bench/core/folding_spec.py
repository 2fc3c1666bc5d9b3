"""Folding specifications: how each layer's PE and SIMD are chosen, validated without FINN."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.core.limits import MAX_PARALLEL, MAX_TARGET_FPS, not_bool, within

DEFAULT_PE = 4


class UniformFolding(BaseModel):
    """Every layer asks for the same PE/SIMD and gets the largest valid value not above it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    strategy: Literal["uniform"] = "uniform"
    pe: int = DEFAULT_PE
    simd: int | None = None

    _no_bools = field_validator("pe", "simd", mode="before")(lambda cls, v: not_bool(v))

    @field_validator("pe", "simd")
    @classmethod
    def _parallelism(cls, v: int | None) -> int | None:
        return v if v is None else within(v, 1, MAX_PARALLEL)

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

    _no_bools = field_validator("fps", mode="before")(lambda cls, v: not_bool(v))

    @field_validator("fps")
    @classmethod
    def _positive(cls, v: int) -> int:
        return within(v, 1, MAX_TARGET_FPS)

    def label(self) -> str:
        return f"fps{self.fps}"


class ParetoFolding(BaseModel):
    """Search per-layer foldings for the FPS-vs-LUT Pareto front within a device budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    strategy: Literal["pareto"] = "pareto"
    max_utilization: float = 0.8

    _no_bools = field_validator("max_utilization", mode="before")(lambda cls, v: not_bool(v))

    @field_validator("max_utilization")
    @classmethod
    def _fraction(cls, v: float) -> float:
        if not 0 < v <= 1:
            raise ValueError(f"must be in (0, 1], got {v}")
        return v

    def label(self) -> str:
        return f"pareto{self.max_utilization:g}"


class FastestFolding(ParetoFolding):
    """The fastest per-layer folding within a device budget: the first point of the
    Pareto search, alone. This is the designer's question ("what is the fastest design
    that fits my board?") as one record, where `pareto` writes the whole front."""

    strategy: Literal["fastest"] = "fastest"  # type: ignore[assignment]
    max_utilization: float = 0.85

    def label(self) -> str:
        return f"fastest{self.max_utilization:g}"


FoldingSpec = Annotated[
    UniformFolding | LayersFolding | TargetFpsFolding | ParetoFolding | FastestFolding,
    Field(discriminator="strategy"),
]
FOLDING_STRATEGIES = ("uniform", "layers", "target_fps", "pareto", "fastest")


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
