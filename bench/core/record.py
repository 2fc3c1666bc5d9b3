"""The run record: one typed schema for writing, reading, validating and tabulating.

Every record (one JSON file per run point) is a `Record`. Writing goes through it, so a
record cannot be written with a misspelt or missing field; reading goes through it, so a
truncated or foreign file is reported by path instead of being half-used; and the
collector takes its DataFrame columns and their types from it.

Field names are an interface (reports, the paper reproduction and external checks read
them). Records written before `schema_version` existed carry the same fields and are read
as version 1.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)

# What a record file may be before it is used. Every run re-reads all records (results.csv),
# so one hostile file under runs/ must cost little and be listed as invalid, never exhaust
# the stack, the memory or the report (a 100 KB name alone takes the figures ~15 s).
# Records qnn-bench writes are 2-20 KB, at most four levels deep, and their longest text is
# a traceback of a few KB (errors are cut at 500 characters): each bound has 100x room.
MAX_RECORD_BYTES = 4 << 20
MAX_DEPTH = 32
MAX_STRING = 64 << 10


class RecordError(ValueError):
    """A record file that cannot be used; the message names the file and the problem."""


class Record(BaseModel):
    """One run point: identity, accuracy, folding, estimates, verification, provenance."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    schema_version: int = SCHEMA_VERSION
    # identity
    run_id: str
    model: str
    dataset: str
    weight_bits: int | None  # None: an external graph without quantizers (a failed run)
    act_bits: int | None
    input_bits: int | None = None
    input_size: int | None = None  # images zero-padded to this square frame (None: as stored)
    weight_quant: str | None
    seed: int
    epochs: int
    batch_size: int | None = None
    lr: float | None = None
    target: str | None = None
    # SHA-256 of the data files read from the user's data directory (None: digits, or the
    # published files downloaded and checked against their pinned checksums)
    data_sha256: str | None = None
    # external models: where the model came from and how data becomes its input
    model_source: str | None = None  # "zoo", "qonnx:<file name>", "brevitas:<pkg.mod:fn>"
    # of the QONNX file, or of the module's source with the user's modules it imports
    model_sha256: str | None = None
    input_datatype: str | None = None  # declared, its input quantizer's (INT8), or FLOAT32
    input_scale: float | None = None  # the model's input = data * input_scale + offset
    input_offset: float | None = None
    preprocess_inserted: bool | None = None  # FINN pre-processing added before the graph
    preprocess_max_abs_err: float | None = None  # that step against the float model
    # accuracy (PyTorch for trained models, QONNX execution for external ones)
    accuracy: float | None = None
    fp32_accuracy: float | None = None
    # the hardware graph's accuracy in FINN's Python execution, and on how many samples
    hw_accuracy: float | None = None
    hw_accuracy_samples: int | None = None
    # training
    train_device: str | None = None  # cpu or cuda (`device` is the board)
    augment: bool | None = None
    # folding
    folding: list[dict[str, Any]] | None = None
    folding_strategy: str | None = None
    folding_id: str | None = None  # the folding's part of the run id, e.g. pe4simd4
    folding_spec: dict[str, Any] | None = None
    # FINN's estimates
    est_fps: float | None = None
    est_latency_ns: float | None = None
    est_max_cycles: int | None = None
    est_critical_path_cycles: int | None = None
    est_bottleneck: str | None = None
    lut: float | None = None
    bram18: float | None = None
    uram: float | None = None
    dsp: float | None = None
    per_layer: dict[str, dict[str, Any]] | None = None
    # calibrated costs (bench.cost): per layer a model fitted to our Yosys measurements
    # where one covers it, FINN's estimate elsewhere (per_layer says which, cost_source);
    # `utilization` and `fits` use them, `fits_finn` is the verdict on FINN's totals
    cal_lut: float | None = None
    cal_ff: float | None = None  # over the layers with a calibrated model (FINN has none)
    cal_bram18: float | None = None
    cal_dsp: float | None = None
    cost_coverage: float | None = None  # layers with a calibrated model / all HW layers
    # cal_lut + cal_dsp at the LUTs one DSP saves (measured: the same designs synthesized
    # with and without DSPs), to compare designs that trade DSPs for LUTs on one axis
    lut_equiv: float | None = None
    # FINN's cycles with the width converters' input rate counted (bench.core.stream_rate):
    # the slowest layer as the stitched design runs it, and the FPS at the requested clock
    cal_max_cycles: int | None = None
    cal_fps: float | None = None
    fits_finn: bool | None = None
    impl: str | None = None  # rtl: RTL layers wherever FINN has them; hls: FINN's choice
    hls_layers: dict[str, str] | None = None  # with impl rtl: layers left HLS, FINN's why
    layer_datatypes: dict[str, dict[str, str]] | None = None
    weight_distinct_values: dict[str, int] | None = None
    # device
    device: str | None = None
    part: str | None = None
    clk_ns: float | None = None
    utilization: dict[str, float] | None = None
    fits: bool | None = None
    # export check and verification
    export_max_abs_err: float | None = None
    export_mismatched_samples: int | None = None
    verify_ok: bool | None = None
    verify_max_abs_err: float | None = None
    verify_samples: int | None = None
    verify_argmax_agreement: float | None = None
    verify_mismatched_samples: int | None = None
    # Pareto search
    pareto_front: bool | None = None
    pareto_index: int | None = None
    pareto_best: bool | None = None
    pareto_max_utilization: float | None = None
    pareto_front_size: int | None = None
    # measured hardware of the RTL layers (target rtl): Yosys synthesis, Verilator check
    rtl_layers: list[dict[str, Any]] | None = None  # one row per HW node, HLS ones say why
    rtl_lut: int | None = None  # sums over the measured layers (LUTs: logic only)
    rtl_lutram: int | None = None  # LUTs used as memory (RAM64M etc.), apart from rtl_lut
    # calibrated LUTs of the measured layers that have a model, and their error against
    # the measured logic + LUT RAM of the same layers ((calibrated - measured) / measured)
    rtl_cal_lut: float | None = None
    rtl_cal_lut_error: float | None = None
    rtl_ff: int | None = None
    rtl_bram18: int | None = None
    rtl_dsp: int | None = None
    rtl_coverage: float | None = None  # measured layers / all HW layers
    rtl_lut_coverage: float | None = None  # FINN's LUT estimate: measured layers / all
    rtl_sim_ok: bool | None = None  # every measured layer bit-exact against FINN
    rtl_tool_versions: dict[str, str] | None = None
    # the whole network stitched into one design (target rtl, every layer our RTL unit)
    rtl_fps: float | None = None  # clock / measured cycles per image once the pipeline is full
    rtl_cycles_per_image: float | None = None
    rtl_latency_cycles: int | None = None  # first input word to image 0's first output word
    rtl_stitched_ok: bool | None = None  # bit-exact against FINN's Python execution
    rtl_stitched_lut: int | None = None  # Yosys synth_xilinx of the whole top (logic)
    rtl_stitched_lutram: int | None = None  # its LUTs used as memory
    rtl_stitched_ff: int | None = None
    rtl_stitched_bram18: int | None = None
    rtl_stitched_dsp: int | None = None
    rtl_stitched_skipped: str | None = None  # why the network was not stitched
    # why the stitched top was simulated but not synthesized whole (its layers' sum stands)
    rtl_stitched_synth_skipped: str | None = None
    rtl_stitched: dict[str, Any] | None = None  # details: nodes, FIFOs, intervals, seconds
    # the stitched network again with its output not ready in half the cycles (seeded)
    rtl_stalled_ok: bool | None = None
    rtl_stalled_fps: float | None = None
    # FIFO depths sized by simulation (bench.rtl.fifo_sizing), keyed by the layer each
    # FIFO follows; storage bits against one image per FIFO; the sized FIFOs' Yosys cost;
    # the throughput with FINN's default depths (no FIFOs); details in rtl_stitched
    fifo_depths: dict[str, int] | None = None
    fifo_bits: int | None = None
    fifo_one_image_bits: int | None = None
    fifo_cost: dict[str, int] | None = None
    rtl_finn_fifo_fps: float | None = None
    # the sized design's switching activity over the same images (bench.rtl.activity):
    # toggles of named RTL signals per image, an energy proxy only as a ratio of designs
    rtl_toggles_per_image: float | None = None
    # target route: the same RTL placed and routed on ECP5 (nextpnr); per layer and for
    # the stitched design (behind a pin wrapper, with a bitstream)
    route_device: str | None = None
    route_layers: list[dict[str, Any]] | None = None
    route_stitched: dict[str, Any] | None = None
    route_fmax_mhz: float | None = None  # the stitched design's, else the slowest layer's
    route_fmax_source: str | None = None
    route_fps: float | None = None  # at route_fmax_mhz: routed clock / cycles per image
    route_clock_met: bool | None = None  # route_fmax_mhz reaches the requested clock
    route_lut4: int | None = None
    route_ff: int | None = None
    route_dsp: int | None = None  # MULT18X18D
    route_bram: int | None = None  # DP16KD
    route_utilization: dict[str, float] | None = None  # of the routed device
    route_bitstream: str | None = None
    # the clock check (bench.rtl.timing): Fmax estimated from ABC9's logic delay with a
    # routing allowance fitted on ECP5 (an assumption on Xilinx; docs/hardware.md), of
    # the stitched top if there is one ("stitched"), else of the slowest layer
    fmax_est_mhz: float | None = None
    fmax_est_source: str | None = None
    est_fps_at_fmax: float | None = None  # est_fps at min(requested clock, fmax_est_mhz)
    clock_plausible: bool | None = None  # False: the requested clock exceeds the estimate
    # measured hardware: multipliers Yosys infers in DSPs ("auto") or in LUTs ("off")
    dsp_policy: str | None = None
    # which matrix-vector layer: FINN's MVAU ("finn") or our unit ("rtl", --mvu rtl)
    mvu: str | None = None
    mvu_layers: dict[str, dict[str, Any]] | None = None  # per unit: datapath; kept: why
    estimate_model: str | None = None  # where our unit's resource estimates come from
    mvu_verify_ok: bool | None = None  # graph with our unit == FINN's graph, bit for bit
    mvu_verify_samples: int | None = None
    # with Vivado only
    synth_lut: float | None = None
    synth_ff: float | None = None
    synth_bram36: float | None = None
    synth_dsp: float | None = None
    synth_uram: float | None = None
    synth_wns_ns: float | None = None
    fmax_mhz: float | None = None
    synth_fps: float | None = None
    synth_power_w: float | None = None
    bitfile: str | None = None
    # provenance
    status: Literal["ok", "failed"]
    error: str | None = None
    failed_stage: str | None = None
    failed_step: str | None = None
    traceback: str | None = None
    train_threads: int | None = None  # PyTorch threads used for training (pinned)
    timings_s: dict[str, float] | None = None
    cached_stages: list[str] | None = None
    versions: dict[str, str] | None = None
    created_at: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Record:
        if self.schema_version not in READABLE_VERSIONS:
            raise ValueError(
                f"schema_version {self.schema_version} is not one this qnn-bench reads "
                f"({', '.join(map(str, READABLE_VERSIONS))})"
            )
        if self.status == "failed":
            if not self.error or not self.failed_stage:
                raise ValueError("a failed record needs error and failed_stage")
            return self
        # Hardware only (dataset none): there is nothing to measure accuracy on.
        required = [n for n in OK_REQUIRED if not (n == "accuracy" and self.dataset == "none")]
        missing = [name for name in required if getattr(self, name) is None]
        if missing:
            raise ValueError("an ok record needs " + ", ".join(missing))
        for name in ("accuracy", "hw_accuracy"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in 0..1, got {value}")
        if not self.est_fps > 0:  # type: ignore[operator]
            raise ValueError(f"est_fps must be positive, got {self.est_fps}")
        return self

    # -- files ------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude_none=False), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = "record") -> Record:
        """Validate a parsed record; RecordError names `source` and the first problems."""
        if not isinstance(data, dict):
            raise RecordError(f"{source}: not a JSON object")
        data = _migrate(dict(data))
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise RecordError(f"{source}: {_describe(err)}") from None

    @classmethod
    def read(cls, path: Path) -> Record:
        """The record in `path`; RecordError for anything else, hostile files included."""
        raw = _read_bounded(path)
        try:
            data = json.loads(raw)
        except RecursionError:
            raise RecordError(f"{path}: nested deeper than {MAX_DEPTH} levels") from None
        except (UnicodeDecodeError, ValueError) as err:
            raise RecordError(f"{path}: unreadable ({type(err).__name__}: "
                              f"{_clip(str(err))})") from None
        problem = _out_of_bounds(data)
        if problem:
            raise RecordError(f"{path}: {problem}")
        return cls.from_dict(data, str(path))


def _read_bounded(path: Path) -> bytes:
    """At most MAX_RECORD_BYTES of a regular file. Opened without blocking and checked on
    the open file, so a FIFO, a device (`-> /dev/zero`) or a file swapped in meanwhile is
    refused instead of hanging or filling the memory."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise RecordError(f"{path}: unreadable ({err.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RecordError(f"{path}: not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_RECORD_BYTES + 1)
    except OSError as err:
        raise RecordError(f"{path}: unreadable ({err.strerror})") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_RECORD_BYTES:
        raise RecordError(f"{path}: larger than {MAX_RECORD_BYTES >> 20} MiB "
                          "(records are a few KB)")
    return raw


def _out_of_bounds(data: Any) -> str | None:
    """Why parsed JSON is too deep or holds too long a text (None if it is neither);
    walked with a stack of its own, so depth cannot exhaust Python's."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, field = stack.pop()
        where = f"field {field!r}: " if field else ""
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                return (f"{where}a text of {len(value):,} characters "
                        f"(at most {MAX_STRING:,})")
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return f"{where}nested deeper than {MAX_DEPTH} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                name = field or (key if depth == 1 and isinstance(key, str) else "")
                stack.append((item, depth + 1, name))
                if isinstance(key, str):
                    stack.append((key, depth + 1, name))
    return None


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older record to the current fields (nothing is lost, names change)."""
    data.setdefault("schema_version", 1)
    if data["schema_version"] == 1 and "folding_label" in data:
        # Version 1 called the folding's id `folding_label`, the name reports use for the
        # readable label ("PE4/SIMD4"); version 2 keeps the two apart.
        data["folding_id"] = data.pop("folding_label")
    if data["schema_version"] < 3 and data.get("est_fps") is not None:
        # Before version 3 every hardware graph was FINN's default choice of layers, and
        # no cost was calibrated (cal_* stay empty: reports show FINN's for these).
        data.setdefault("impl", "hls")
    return data


OK_REQUIRED = (
    "accuracy", "folding", "folding_strategy", "est_fps", "est_max_cycles", "lut", "bram18",
    "dsp", "device", "clk_ns", "verify_ok", "verify_samples",
)


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:3]:
        where = ".".join(str(x) for x in e["loc"]) or "record"
        parts.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    more = len(err.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


# -- the table view -------------------------------------------------------------------------

# How a nested field becomes columns: flattened into prefixed scalars, or kept as JSON text.
FLATTENED = {
    "utilization": ("util_", ""), "versions": ("version_", ""), "timings_s": ("time_", "_s"),
}
JSON_FIELDS = ("folding", "folding_spec", "per_layer", "layer_datatypes",
               "weight_distinct_values", "rtl_layers", "rtl_tool_versions", "mvu_layers",
               "rtl_stitched", "hls_layers")
LIST_FIELDS = ("cached_stages",)  # comma-joined text
NOT_COLUMNS = ("traceback",)  # the error's first line is in `error`


def scalar_columns() -> dict[str, str]:
    """Record fields that are one cell each, with their kind: int, float, bool or str."""
    kinds = {}
    for name, info in Record.model_fields.items():
        if name in FLATTENED or name in JSON_FIELDS or name in NOT_COLUMNS:
            continue
        if name in LIST_FIELDS:
            kinds[name] = "str"
            continue
        text = str(info.annotation)
        kind = next((k for k in ("bool", "int", "float") if k in text), "str")
        kinds[name] = kind
    return kinds
