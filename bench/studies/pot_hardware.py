"""Integer vs power-of-two weights in measured hardware: TFC built with our matrix-vector
unit (`--mvu rtl`), synthesized by Yosys and simulated by Verilator (`--target rtl`).

FINN stores power-of-two weights as integers, so its estimates cannot show what shifts
instead of multipliers save. Here each layer is our unit with the `int` or the `pot`
datapath, at 2..5 bits and the paper's foldings (b) and (d); FINN's estimate of its own
integer design at the same point stands beside it.
"""

from __future__ import annotations

from typing import Any

from bench.core.spec import RunSpec, make_spec
from bench.report.table_model import Table
from bench.studies.paper import PAPER_INPUT_SIZE, paper_folding, paper_name

POT_HW_BITS = (2, 3, 4, 5)
POT_HW_FOLDINGS = ("b", "d")


def pot_hardware_points(
    common: dict[str, Any], epochs: int, seed: int,
    bits: tuple[int, ...] = POT_HW_BITS, foldings: tuple[str, ...] = POT_HW_FOLDINGS,
    target: str = "rtl",
) -> list[RunSpec]:
    """Every (folding, bits, datapath) as a point measured with our unit (`target` rtl,
    or route to place and route them too).

    The trained models are the reproduction's own (same recipe and seed), so only the
    hardware is new work.
    """
    return [
        make_spec(model="tfc", weight_bits=b, act_bits=b, weight_quant=quant, epochs=epochs,
                  folding=paper_folding(name), input_size=PAPER_INPUT_SIZE[name], seed=seed,
                  mvu="rtl", target=target, **common)
        for name in foldings for b in bits for quant in ("int", "pot")
    ]


def _measured(records: list[dict[str, Any]], name: str, bits: int,
              quant: str) -> dict[str, Any] | None:
    for r in records:
        if (r.get("status") == "ok" and r.get("mvu") == "rtl" and r.get("model") == "tfc"
                and r.get("weight_bits") == bits and r.get("weight_quant") == quant
                and paper_name(r) == name and r.get("rtl_lut") is not None):
            return r
    return None


def _finn_estimate(records: list[dict[str, Any]], name: str, bits: int,
                   seed: int) -> dict[str, Any] | None:
    """FINN's own integer design at the same point (its MVAU, estimates only)."""
    for r in records:
        if (r.get("status") == "ok" and (r.get("mvu") or "finn") == "finn"
                and r.get("model") == "tfc" and r.get("weight_bits") == bits
                and r.get("weight_quant") == "int" and paper_name(r) == name
                and r.get("seed", 0) == seed and r.get("lut") is not None):
            return r
    return None


def _ratio(record: dict[str, Any], baseline: dict[str, Any] | None, key: str) -> str:
    """record[key] / baseline[key] with two decimals, or '' without both."""
    if baseline is None or not record.get(key) or not baseline.get(key):
        return ""
    return f"{record[key] / baseline[key]:.2f}"


def _num(value: Any, fmt: str = ",.0f") -> str:
    return "–" if value is None else format(value, fmt)


def pot_hardware_table(records: list[dict[str, Any]], seed: int = 0) -> Table:
    title = ("Integer vs power-of-two weights in measured hardware (TFC, our unit, "
             "Yosys synth_xilinx before place and route)")
    rows = []
    for name in POT_HW_FOLDINGS:
        for bits in POT_HW_BITS:
            pair = {q: _measured(records, name, bits, q) for q in ("int", "pot")}
            finn = _finn_estimate(records, name, bits, seed)
            for quant, r in pair.items():
                if r is None:
                    continue
                other = pair["int"] if quant == "pot" else None
                rows.append([
                    f"({name})", f"W{bits}A{bits}", quant, _num(100 * r["accuracy"], ".2f")
                    if r.get("accuracy") is not None else "–",
                    _num(r.get("rtl_lut")), _ratio(r, other, "rtl_lut"), _num(r.get("rtl_ff")),
                    _num(r.get("rtl_bram18")), _num(r.get("rtl_dsp")),
                    _num(r.get("fmax_est_mhz"), ".0f"), _num(r.get("route_fmax_mhz"), ".1f"),
                    _ratio(r, other, "rtl_toggles_per_image"),
                    "yes" if r.get("rtl_sim_ok") else "no",
                    _num(r.get("rtl_fps")), _num(r.get("est_fps")),
                    _num(finn.get("lut")) if finn and quant == "int" else "",
                ])
    note = ("LUT, FF, BRAM18, DSP: sums over the unit's layers, each synthesized alone; "
            "Fmax est.: from the stitched design's ABC9 logic delay with a routing allowance "
            "fitted on ECP5 (an estimate, not a Xilinx timing result); routed Fmax: the "
            "stitched design placed and routed on ECP5 (LFE5U-85F) with nextpnr, with "
            "POT_HW=route. energy pot/int: toggles of named RTL signals per image in the "
            "stitched design over the same test images (a switching-activity proxy, "
            "relative only; it cannot see inside multipliers, which favours int). "
            "bit-exact: every layer simulated in Verilator equals FINN's Python "
            "execution. FPS: simulated (stitched design) and FINN's cycle estimate, 100 MHz. "
            "Last column: FINN's estimate of its own integer MVAU design at the same point. "
            "The integer unit's multipliers go to DSP slices where Yosys maps them (products "
            "of 9 bits or more, e.g. the 8-bit input layer), so compare LUTs together with "
            "DSPs; PoT needs none. n-bit PoT spans the integer range of INT(2^(n-1)) (n=3: "
            "INT4, n=4: INT8), so PoT-n compares with int at that range as much as with int-n.")
    if not rows:
        return Table(key="pot_hardware", title=title, header=[], rows=[],
                     note="not measured in this run (reproduce --pot-hardware, POT_HW=1)")
    return Table(
        key="pot_hardware", title=title,
        header=["folding", "W/A", "weights", "accuracy (%)", "LUT", "LUT pot/int", "FF",
                "BRAM18", "DSP", "Fmax est. (MHz)", "routed Fmax (MHz)", "energy pot/int",
                "bit-exact", "FPS (simulated)", "FPS (FINN est.)", "FINN est. LUT (int)"],
        rows=rows, align=list("lll" + "r" * 9 + "l" + "rrr"), note=note,
    )
