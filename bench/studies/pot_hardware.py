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
) -> list[RunSpec]:
    """Every (folding, bits, datapath) as a point measured with our unit.

    The trained models are the reproduction's own (same recipe and seed), so only the
    hardware is new work.
    """
    return [
        make_spec(model="tfc", weight_bits=b, act_bits=b, weight_quant=quant, epochs=epochs,
                  folding=paper_folding(name), input_size=PAPER_INPUT_SIZE[name], seed=seed,
                  mvu="rtl", target="rtl", **common)
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


def _logic_delay(record: dict[str, Any]) -> float | None:
    delays = [row.get("logic_delay") for row in record.get("rtl_layers") or []]
    delays = [d for d in delays if d is not None]
    return max(delays) if delays else None


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
                ratio = (f"{r['rtl_lut'] / other['rtl_lut']:.2f}"
                         if other and other.get("rtl_lut") else "")
                rows.append([
                    f"({name})", f"W{bits}A{bits}", quant, _num(100 * r["accuracy"], ".2f")
                    if r.get("accuracy") is not None else "–",
                    _num(r.get("rtl_lut")), ratio, _num(r.get("rtl_ff")),
                    _num(r.get("rtl_bram18")), _num(r.get("rtl_dsp")),
                    _num(_logic_delay(r), ".2f"),
                    "yes" if r.get("rtl_sim_ok") else "no",
                    _num(r.get("rtl_fps")), _num(r.get("est_fps")),
                    _num(finn.get("lut")) if finn and quant == "int" else "",
                ])
    note = ("LUT, FF, BRAM18, DSP: sums over the unit's layers, each synthesized alone; "
            "logic delay: the slowest layer's ABC9 logic-only path (a relative measure, no "
            "routing). bit-exact: every layer simulated in Verilator equals FINN's Python "
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
                "BRAM18", "DSP", "logic delay (ns)", "bit-exact", "FPS (simulated)",
                "FPS (FINN est.)", "FINN est. LUT (int)"],
        rows=rows, align=list("lll" + "r" * 7 + "l" + "rrr"), note=note,
    )
