"""A clock rate estimate from ABC9's logic delay: a routing allowance calibrated on ECP5.

Yosys' `synth_xilinx -abc9` reports the delay of the deepest mapped logic path (`Del`,
`yosys.parse_logic_delay`): LUTs and carry chains between registers, no placement, no
routing, no clock-to-output or setup time. It ranks designs but is not a clock period.
No Xilinx place and route runs here; ECP5 does (`ecp5.route`), and its synthesis runs
the same ABC9 mapper. `timing_fit` routes a set of designs on ECP5 and fits the routed
period against the ECP5 logic delay of the same netlists; the fit is stored in
`timing_fit.json` and applied here to Xilinx logic delays.

That transfer is an assumption: it supposes that routing, register and setup overheads
relative to the logic are alike on the two fabrics. It is a plausibility check of the
requested clock, not a timing sign-off; `timing_fit.json` holds the spread.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODEL_FILE = Path(__file__).parent / "timing_fit.json"

_CACHE: dict[str, dict[str, Any]] = {}


def load_allowance(path: Path = MODEL_FILE) -> dict[str, Any]:
    """The stored fit: the chosen form, its parameters and the designs it came from."""
    key = str(path)
    if key not in _CACHE:
        if not path.is_file():
            raise FileNotFoundError(f"no fitted routing allowance at {path}: run python -m "
                                    "bench.rtl.timing_fit WORK_DIR")
        _CACHE[key] = json.loads(path.read_text())
    return _CACHE[key]


def period_from(form: str, params: dict[str, float], logic_delay: float) -> float:
    """A routed period (ns) from a logic delay (ns) in one of the fitted forms:
    `ratio` d·k, `offset` d + c, `affine` a + b·d."""
    if form == "ratio":
        return logic_delay * params["k"]
    if form == "offset":
        return logic_delay + params["c"]
    if form == "affine":
        return params["a"] + params["b"] * logic_delay
    raise ValueError(f"unknown routing allowance form {form!r}")


def estimated_period_ns(logic_delay: float, model: dict[str, Any] | None = None) -> float:
    """The period (ns) a design with this ABC9 logic delay is estimated to route at."""
    chosen = (model or load_allowance())["chosen"]
    return period_from(chosen["form"], chosen["params"], logic_delay)


def fmax_est_mhz(logic_delay: float | None, model: dict[str, Any] | None = None
                 ) -> float | None:
    """Estimated Fmax (MHz) for a logic delay in ns; None without one (a design ABC9
    reported no path for, e.g. one without logic between registers)."""
    if logic_delay is None or logic_delay <= 0:
        return None
    return round(1000.0 / estimated_period_ns(float(logic_delay), model), 1)


def clock_check(fmax_mhz: float | None, clk_ns: float, fps: float | None
                ) -> dict[str, Any]:
    """Record fields of a design's clock check.

    `est_fps_at_fmax` is the FPS at the slower of the requested clock and the estimate
    (FPS scales with the clock: cycles per image are fixed by the folding), so that a
    report never shows throughput at a clock the logic is unlikely to reach.
    `clock_plausible` is False when the requested clock exceeds the estimate.
    """
    if fmax_mhz is None:
        return {"fmax_est_mhz": None, "est_fps_at_fmax": None, "clock_plausible": None}
    requested = 1000.0 / clk_ns
    plausible = requested <= fmax_mhz
    scaled = None if fps is None else fps * min(1.0, fmax_mhz / requested)
    return {"fmax_est_mhz": fmax_mhz, "clock_plausible": plausible,
            "est_fps_at_fmax": None if scaled is None else round(scaled, 3)}


def design_logic_delay(rows: list[dict[str, Any]], stitched: dict[str, Any] | None
                       ) -> tuple[float | None, str]:
    """The logic delay that bounds the design's clock and where it comes from.

    The stitched top's own synthesis is preferred: it sees the paths between layers
    too. Without one, the slowest measured layer bounds the clock (layers of one design
    share it).
    """
    if stitched and stitched.get("logic_delay"):
        return float(stitched["logic_delay"]), "stitched"
    delays = [float(r["logic_delay"]) for r in rows if r.get("logic_delay")]
    return (max(delays), "slowest layer") if delays else (None, "")
