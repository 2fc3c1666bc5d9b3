"""The Vivado path: FINN's flow past the estimates, through synthesis or a bitfile.

The plan (steps and configuration) is computed separately from running it, so it can be
shown and tested on a machine without Vivado; running it there stops with `VivadoMissing`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.finn_flow.builder import (
    ESTIMATE_LAST,
    TARGET_LAST,
    make_config,
    run_builder,
    steps_until,
    write_folding_file,
)
from bench.finn_flow.env import vivado_available

SYNTH_TARGETS = tuple(TARGET_LAST)


class VivadoMissing(RuntimeError):
    """A target that needs Vivado was asked for on a machine without it."""


def target_steps(target: str) -> list[str]:
    """FINN's whole flow for `target` (rtlsim performance measurement left out: it needs
    Vivado's XSI simulator and adds nothing to the resource and fmax numbers)."""
    if target not in TARGET_LAST:
        raise ValueError(f"unknown synthesis target {target!r}; allowed: "
                         + ", ".join(SYNTH_TARGETS))
    return steps_until(TARGET_LAST[target])


def steps_past_estimates(target: str) -> list[str]:
    """The FINN steps a synthesis target adds after the estimate reports."""
    steps = target_steps(target)
    return steps[steps.index(ESTIMATE_LAST) + 1 :]


def synthesis_plan(
    target: str, folding_config: dict[str, dict[str, int]], board: str, fpga_part: str,
    clk_ns: float, out_dir: Path,
) -> dict[str, Any]:
    """What qnn-bench hands FINN for `target`: the step list and the build configuration."""
    steps = target_steps(target)
    outputs = ["estimate_reports", "stitched_ip", "out_of_context_synth"]
    config: dict[str, Any] = {
        "output_dir": str(out_dir / "finn"),
        "synth_clk_period_ns": clk_ns,
        "fpga_part": fpga_part,
        "folding_config_file": str(out_dir / "folding_config.json"),
        "generate_outputs": outputs,
    }
    if target == "bitfile":
        config.update(
            board=board, shell_flow_type="vivado_zynq",
            generate_outputs=[*outputs, "bitfile", "pynq_driver", "deployment_package"],
        )
    return {"target": target, "steps": steps, "config": config, "folding": folding_config}


def describe_plan(plan: dict[str, Any]) -> str:
    steps = steps_past_estimates(plan["target"])
    return f"FINN steps {', '.join(steps)} with fpga_part {plan['config']['fpga_part']}"


def run_synthesis(qonnx_path: Path, plan: dict[str, Any]) -> dict[str, Any]:
    """Run FINN's flow through out-of-context synthesis (and the bitfile) for one folding.

    Returns the record fields `synth_*` / `fmax_mhz` parsed from FINN's
    `ooc_synth_and_timing.json`.
    """
    if not vivado_available():
        raise VivadoMissing(
            f"target {plan['target']!r} needs Vivado (XILINX_VIVADO is not set); it would run "
            + describe_plan(plan)
        )
    write_folding_file(Path(plan["config"]["folding_config_file"]), plan["folding"])
    cfg = make_config(plan["steps"], **plan["config"])
    finn_dir = run_builder(qonnx_path, cfg)
    fields = parse_synth_report(finn_dir / "report" / "ooc_synth_and_timing.json")
    bitfiles = sorted(finn_dir.glob("bitfile/*.bit"))
    if bitfiles:
        fields["bitfile"] = str(bitfiles[0])
    return fields


def parse_synth_report(path: Path) -> dict[str, Any]:
    """Record fields from FINN's `ooc_synth_and_timing.json` (out-of-context synthesis).

    FINN writes Vivado's utilization counts (LUT, FF, DSP, BRAM_36K, BRAM_18K, URAM, ...),
    WNS, the derived fmax and the throughput at that fmax. BRAM is reported in 36 kb
    tiles, counting each 18 kb block as half a tile, as Vivado's "Block RAM Tile" does.
    """
    data = json.loads(path.read_text())

    def number(key: str) -> float | None:
        value = data.get(key)
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    bram36 = number("BRAM")
    if bram36 is None and (number("BRAM_36K") is not None or number("BRAM_18K") is not None):
        bram36 = (number("BRAM_36K") or 0.0) + (number("BRAM_18K") or 0.0) / 2
    return {
        "synth_lut": number("LUT"),
        "synth_ff": number("FF"),
        "synth_bram36": bram36,
        "synth_dsp": number("DSP"),
        "synth_uram": number("URAM"),
        "synth_wns_ns": number("WNS"),
        "fmax_mhz": number("fmax_mhz"),
        "synth_fps": number("estimated_throughput_fps"),
        "synth_power_w": number("total_power_W"),
    }
