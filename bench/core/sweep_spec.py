"""Sweep specs: a YAML file whose lists multiply out into run points.

The whole file is validated before any work starts, and every problem is reported at
once, so a typo in the tenth folding entry does not surface after an hour of training.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench.core.spec import (
    DEFAULTS,
    RunSpec,
    SpecError,
    describe_validation_error,
    make_spec,
)

# Limits that keep a hostile or mistaken spec from eating the machine before any work.
MAX_SPEC_BYTES = 1_000_000
MAX_LIST_ITEMS = 1_000
MAX_POINTS = 10_000


class SweepSpec(BaseModel):
    """The lists to multiply; scalars apply to every point."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(default_factory=lambda: [DEFAULTS["model"]])
    datasets: list[str] = Field(default_factory=lambda: [DEFAULTS["dataset"]])
    bits: list[int] | None = None
    weight_bits: list[int] | None = None
    act_bits: list[int] | None = None
    quant: list[str] = Field(default_factory=lambda: [DEFAULTS["weight_quant"]])
    epochs: int = DEFAULTS["epochs"]
    fp32_baseline: bool = False
    seeds: list[int] = Field(default_factory=lambda: [DEFAULTS["seed"]])
    input_size: int | None = None  # MLPs: zero-pad images to input_size x input_size
    folding: list[dict[str, Any]] = Field(
        default_factory=lambda: [{"strategy": "uniform", "pe": DEFAULTS["pe"]}]
    )
    board: str = DEFAULTS["board"]
    clk_ns: float = DEFAULTS["clk_ns"]
    target: str = RunSpec.model_fields["target"].default  # estimate, rtl, synth, bitfile
    # matrix-vector layers: finn (FINN's MVAU), rtl (our unit); a list compares them
    mvu: list[str] = Field(default_factory=lambda: [RunSpec.model_fields["mvu"].default])
    # measured hardware: multipliers in DSPs (auto) or LUTs (off); a list compares them
    dsp: list[str] = Field(default_factory=lambda: [RunSpec.model_fields["dsp"].default])
    # FINN's layers: rtl (RTL wherever FINN can, calibrated costs) or hls; a list compares
    impl: list[str] = Field(default_factory=lambda: [RunSpec.model_fields["impl"].default])
    data_dir: str | None = None
    # External models (a `models` entry ending in .onnx is a QONNX file) and their input.
    input_scale: float | None = None
    input_offset: float | None = None
    hw_accuracy_samples: int | None = None
    device: str | None = None
    augment: bool | None = None

    @field_validator("models", "datasets", "quant", "seeds", "folding", "mvu", "dsp",
                     "impl", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return v if isinstance(v, list) else [v]

    @field_validator("models", "datasets", "bits", "weight_bits", "act_bits", "quant", "seeds",
                     "folding", "mvu", "dsp", "impl", mode="before")
    @classmethod
    def _bounded_list(cls, v: Any) -> Any:
        if isinstance(v, list) and len(v) > MAX_LIST_ITEMS:
            raise ValueError(f"at most {MAX_LIST_ITEMS} entries, got {len(v)}")
        if isinstance(v, list) and any(isinstance(x, bool) for x in v):
            raise ValueError("must hold numbers or names, got true/false")
        return v

    @field_validator("dsp", mode="before")
    @classmethod
    def _yaml_off(cls, v: Any) -> Any:
        # YAML 1.1 reads a bare `off` (and `on`) as a boolean: mean the policy's names
        def name(x: Any) -> Any:
            return {False: "off", True: "auto"}.get(x, x) if isinstance(x, bool) else x

        return [name(x) for x in v] if isinstance(v, list) else name(v)

    @field_validator("epochs", "clk_ns", "input_size", mode="before")
    @classmethod
    def _no_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"must be a number, got {str(v).lower()}")
        return v

    def point_count(self) -> int:
        return (len(self.models) * len(self.datasets) * len(self.bit_pairs())
                * len(self.quant) * len(self.seeds) * len(self.folding) * len(self.mvu)
                * len(self.dsp) * len(self.impl))

    def bit_pairs(self) -> list[tuple[int, int]]:
        if self.bits is not None:
            return [(b, b) for b in self.bits]
        weights = self.weight_bits or [DEFAULTS["weight_bits"]]
        acts = self.act_bits or [DEFAULTS["act_bits"]]
        return list(itertools.product(weights, acts))


def load_sweep(path: Path) -> list[RunSpec]:
    """Read, validate and expand a sweep file; SpecError lists every problem found."""
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{path}: a sweep spec may be at most {MAX_SPEC_BYTES:,} bytes")
        raw = yaml.load(path.read_text(), Loader=_NoAliasLoader)
    except OSError as err:
        raise SpecError(f"cannot read sweep spec {str(path)!r}: {err.strerror}") from None
    except _AliasUsed:
        raise SpecError(f"{path}: YAML aliases (*name) are not allowed in sweep specs") from None
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise SpecError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a sweep spec is a mapping of keys to values")
    problems = [f"{key}: is not a known field" for key in raw if key not in SweepSpec.model_fields]
    known = {k: v for k, v in raw.items() if k in SweepSpec.model_fields}
    try:
        sweep = SweepSpec(**known)
    except ValidationError as err:
        problems.append(describe_validation_error(err))
        raise SpecError(f"{path}: " + "; ".join(problems)) from None
    if sweep.bits is not None and (sweep.weight_bits or sweep.act_bits):
        problems.append("give either bits or weight_bits/act_bits, not both")
    if sweep.point_count() > MAX_POINTS:
        raise SpecError(f"{path}: the sweep multiplies out to {sweep.point_count():,} points; "
                        f"at most {MAX_POINTS:,} are allowed (split it into several specs)")
    return expand(sweep, base_dir=path.parent, label=str(path), problems=problems)


def expand(
    sweep: SweepSpec, base_dir: Path, label: str, problems: list[str] | None = None
) -> list[RunSpec]:
    """Every combination as a RunSpec; problems are collected, then raised together.

    Foldings and the other lists are checked separately, so a bad folding does not hide
    a bad model name and vice versa.
    """
    problems = list(problems or [])
    mapping = {"input_scale": sweep.input_scale, "input_offset": sweep.input_offset}
    if any(v is not None for v in mapping.values()) and not any(
            str(m).endswith(".onnx") for m in sweep.models):
        problems.append("input_scale and input_offset apply to external QONNX models (a "
                        "models entry ending in .onnx); this sweep has none")
    foldings = []
    for index, entry in enumerate(sweep.folding):
        entry = dict(entry)
        if "file" in entry:
            entry["file"] = str(_resolve(entry["file"], base_dir))
        try:
            make_spec(folding=entry)
            foldings.append(entry)
        except SpecError as err:
            problems.append(f"folding[{index}]: {err}")
    points: list[RunSpec] = []
    seen_problems: set[str] = set()
    combos = itertools.product(
        sweep.models, sweep.datasets, sweep.bit_pairs(), sweep.quant, sweep.seeds,
        foldings or [{"strategy": "uniform"}], sweep.mvu, sweep.dsp, sweep.impl,
    )
    for model, dataset, (wbits, abits), quant, seed, folding, mvu, dsp, impl in combos:
        # An external QONNX file brings its own bit widths and quantizer: those lists do
        # not multiply it (it is one model).
        external = str(model).endswith(".onnx")
        model_fields = (
            {"qonnx": str(_resolve(str(model), base_dir)), **mapping} if external
            else {"model": model, "weight_bits": wbits, "act_bits": abits, "weight_quant": quant}
        )
        try:
            points.append(make_spec(
                **model_fields, dataset=dataset, seed=seed, epochs=sweep.epochs,
                folding=folding, board=sweep.board, clk_ns=sweep.clk_ns,
                data_dir=sweep.data_dir, fp32_baseline=sweep.fp32_baseline or None,
                hw_accuracy_samples=sweep.hw_accuracy_samples, train_device=sweep.device,
                augment=sweep.augment, input_size=sweep.input_size, target=sweep.target,
                mvu=mvu, dsp=dsp, impl=impl,
            ))
        except SpecError as err:
            if str(err) not in seen_problems:
                seen_problems.add(str(err))
                problems.append(str(err))
    if problems:
        raise SpecError(f"{label}: {len(problems)} problem(s): " + "; ".join(problems))
    points = list({p.run_id(): p for p in points}.values())  # the same point counts once
    if not points:
        raise SpecError(f"{label}: the sweep has no points (an empty list?)")
    return points


class _AliasUsed(yaml.YAMLError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without aliases: an alias chain can expand a tiny file into gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise _AliasUsed("alias")
        return super().compose_node(parent, index)


def _resolve(file: str, base_dir: Path) -> Path:
    """Relative folding and model files: from the working directory, beside the spec, or
    (folding files) packaged."""
    path = Path(file).expanduser()
    if path.is_absolute() or path.exists() or not (base_dir / path).exists():
        return path
    return base_dir / path
