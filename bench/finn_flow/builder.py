"""FINN's dataflow builder, driven through one step list and one config builder.

`FLOW` is FINN's default flow in FINN's order, plus our own steps (the output scale kept on
the host, thresholds no unsigned input reaches raised to 0); every build
qnn-bench runs is a slice of it (`steps_until`), so the hardware-graph build, the
estimate-only reference build and the Vivado targets cannot drift apart.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.finn_flow.env import prepare_finn, quiet

KEEP_SCALE_STEP = "step_keep_output_scale_in_software"
CLIP_THRESHOLDS_STEP = "step_clip_unreachable_thresholds"

FLOW = [
    "step_qonnx_to_finn",
    "step_tidy_up",
    "step_streamline",
    "step_convert_to_hw",
    KEEP_SCALE_STEP,
    CLIP_THRESHOLDS_STEP,
    "step_minimize_bit_width_initial",
    "step_create_dataflow_partition",
    "step_specialize_layers",
    "step_target_fps_parallelization",
    "step_apply_folding_config",
    "step_minimize_bit_width",
    "step_transpose_decomposition",
    "step_generate_estimate_reports",
    "step_assign_ddr_weight_offsets",
    "step_generate_hardware",
    "step_create_stitched_ip",
    "step_out_of_context_synthesis",
    "step_prepare_synthesis",
    "step_synthesize_bitfile",
    "step_make_driver",
    "step_deployment_package",
]
# Steps that depend on the folding: the hardware graph is built without them, once per
# exported model, and each folding is applied to it in memory.
FOLDING_STEPS = ("step_target_fps_parallelization", "step_apply_folding_config")
# FINN's estimate-only list leaves the transpose decomposition out; so does our reference.
ESTIMATE_SKIPS = ("step_transpose_decomposition",)

# What each build ends with.
HW_GRAPH_LAST = "step_minimize_bit_width"
ESTIMATE_LAST = "step_generate_estimate_reports"
TARGET_LAST = {"synth": "step_out_of_context_synthesis", "bitfile": "step_deployment_package"}


def steps_until(last: str, without: Iterable[str] = ()) -> list[str]:
    """The prefix of `FLOW` ending with `last`, minus the steps named in `without`."""
    skip = set(without)
    return [s for s in FLOW[: FLOW.index(last) + 1] if s not in skip]


HW_GRAPH_STEPS = steps_until(HW_GRAPH_LAST, without=FOLDING_STEPS)
ESTIMATE_STEPS = steps_until(ESTIMATE_LAST, without=ESTIMATE_SKIPS)


class FinnStepError(RuntimeError):
    """A FINN build step failed; `step` names it."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"FINN step {step} failed: {message}")
        self.step = step


Step = str | Callable[[Any, Any], Any]


def step_name(step: Step) -> str:
    """The name FINN gives a step's intermediate model (a function step: its name)."""
    return step if isinstance(step, str) else step.__name__


def make_config(
    steps: Sequence[Step], output_dir: str, fpga_part: str, synth_clk_period_ns: float,
    generate_outputs: list[str], folding_config_file: str | None = None,
    target_fps: int | None = None, board: str | None = None,
    shell_flow_type: str | None = None, standalone_thresholds: bool = False,
) -> Any:
    """The one place a `DataflowBuildConfig` is made.

    Arguments carry FINN's own names, with outputs and the shell flow as FINN's enum
    values (strings), so a plan can be written down as plain JSON and handed over as is.
    A step may also be a function `(model, cfg) -> model`, run in place, as FINN allows;
    `standalone_thresholds` keeps thresholds out of the MVAUs (FINN's RTL MVU needs that).
    """
    prepare_finn()
    import finn.builder.build_dataflow_config as build_cfg

    from bench.finn_flow.transforms import (
        step_clip_unreachable_thresholds,
        step_keep_output_scale_in_software,
    )

    ours = {KEEP_SCALE_STEP: step_keep_output_scale_in_software,
            CLIP_THRESHOLDS_STEP: step_clip_unreachable_thresholds}

    extra: dict[str, Any] = {}
    if board is not None:
        extra["board"] = board
    if shell_flow_type is not None:
        extra["shell_flow_type"] = build_cfg.ShellFlowType(shell_flow_type)
    return build_cfg.DataflowBuildConfig(
        output_dir=str(output_dir),
        synth_clk_period_ns=synth_clk_period_ns,
        fpga_part=fpga_part,
        steps=[ours.get(s, s) if isinstance(s, str) else s for s in steps],
        folding_config_file=folding_config_file,
        target_fps=target_fps,
        generate_outputs=[build_cfg.DataflowOutputType(o) for o in generate_outputs],
        standalone_thresholds=standalone_thresholds,
        **extra,
    )


def write_folding_file(path: Path, folding_config: dict[str, dict[str, int]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"Defaults": {}, **folding_config}, indent=2))
    return path


def run_builder(model_path: Path, cfg: Any) -> Path:
    """Run FINN's builder quietly; return its output directory or raise FinnStepError.

    The builder's return code and `metadata_builder.json` are the only trusted success
    signals: on failure FINN leaves partial reports with meaningless numbers behind. FINN
    returns -1 on failure, except under pytest where it re-raises; both count. FINN logs
    only its own headline for an internal error ("FINN INTERNAL COMPILER ERROR:", often
    with an empty message), so each step runs wrapped and the exception it raised is what
    the error says: its type, message, where it was raised and on which node.
    """
    prepare_finn()
    import finn.builder.build_dataflow as build_dataflow

    finn_dir = Path(cfg.output_dir)
    raised: list[tuple[str, BaseException]] = []
    cfg = copy.copy(cfg)
    cfg.steps = [_recording(step, raised)
                 for step in build_dataflow.resolve_build_steps(cfg, partial=False)]
    with quiet():
        try:
            rc = int(build_dataflow.build_dataflow_cfg(str(model_path), cfg))
        except Exception as err:
            if not raised:  # raised outside the steps (loading the model, say)
                raised.append(("unknown", err))
            rc = -1
    if rc != 0 or _builder_status(finn_dir) != "ok":
        step, message = _failure_from_log(finn_dir / "build_dataflow.log")
        if raised:
            step, message = raised[-1][0], describe_exception(raised[-1][1])
            finn_dir.mkdir(parents=True, exist_ok=True)
            with (finn_dir / "build_dataflow.log").open("a") as f:
                f.write(f"\nERROR in {step}: {message}\n")
        raise FinnStepError(step, message)
    return finn_dir


def _recording(step: Callable[[Any, Any], Any],
               raised: list[tuple[str, BaseException]]) -> Callable[[Any, Any], Any]:
    """The step, noting what it raises (FINN keeps its name: `__name__` is the step's)."""
    @functools.wraps(step)
    def run(model: Any, cfg: Any) -> Any:
        try:
            return step(model, cfg)
        except Exception as err:
            raised.append((step.__name__, err))
            raise
    return run


def describe_exception(err: BaseException) -> str:
    """One line: the exception's type, where it was raised (file:line in function), the
    graph node being handled there, and its message (or, for a bare `assert`, the
    statement that failed)."""
    frames = traceback.extract_tb(err.__traceback__)
    message = " ".join(str(err).split())
    where = node = ""
    if frames:
        last = frames[-1]
        where = f" at {_short_path(last.filename)}:{last.lineno} in {last.name}"
        message = message or (last.line or "").strip()
    found = _failing_node(err.__traceback__)
    if found is not None:
        node = f" on node {found.name or '(unnamed)'} ({found.op_type})"
    return f"{type(err).__name__}{where}{node}: {message or '(no message)'}"[:500]


def _short_path(filename: str) -> str:
    """A source file as its package path (finn/..., qonnx/...) where it is an installed one."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("site-packages"):])
    return filename


def _failing_node(tb: TracebackType | None) -> Any:
    """The ONNX node the innermost frame that holds one was handling: a local variable (a
    transformation's loop over nodes) or an attribute of `self` (a custom op's node)."""
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        local = frame.f_locals
        owner = getattr(local.get("self"), "__dict__", {})
        for candidate in [*local.values(), *owner.values()]:
            if type(candidate).__name__ == "NodeProto":
                return candidate
    return None


def _builder_status(finn_dir: Path) -> str:
    meta = finn_dir / "report" / "metadata_builder.json"
    if not meta.exists():
        return "missing"
    return json.loads(meta.read_text()).get("status", "missing")


def _failure_from_log(log_path: Path) -> tuple[str, str]:
    """The last step FINN started, and the last error line it logged."""
    if not log_path.exists():
        return "unknown", "FINN wrote no build log"
    text = log_path.read_text(errors="replace")
    steps = re.findall(r"Running step: (\S+)", text)
    errors = [
        line.strip() for line in text.splitlines() if "ERROR" in line or "Error:" in line
    ]
    message = errors[-1] if errors else "see " + str(log_path)
    message = re.sub(r"^\[[^\]]*\]\s*", "", message)
    return (steps[-1] if steps else "unknown"), message[:300]
