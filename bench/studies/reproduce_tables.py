"""The reproduction's tables, from records (plain dicts) to `Table`s.

Hardware numbers come from the hardware seed's builds; accuracies are mean ± std over
seeds; not-applicable points show `n/a` with the reason, apart from failures.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from bench.core.outcome import record_outcome
from bench.data.dataset import STORED_SHAPES
from bench.report.table_model import Table
from bench.studies.paper import (
    CNV_BITS,
    HARDWARE_SEED,
    PAPER_CYCLE_SPAN,
    PAPER_FOLDINGS,
    PAPER_INPUT_SIZE,
    PAPER_SPAN,
    POT_BITS,
    TFC_BITS,
    geometry_text,
    paper_name,
)
from bench.studies.pot_hardware import pot_hardware_table

if TYPE_CHECKING:
    import pandas as pd


def _ok(records: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    """Successful records of FINN's own designs (our unit's are `pot_hardware`'s)."""
    return [
        r for r in records
        if r.get("status") == "ok" and (r.get("mvu") or "finn") == "finn"
        and all(r.get(k) == v for k, v in match.items())
    ]


def _hardware_seed(records: list[dict[str, Any]]) -> int:
    seeds = {r.get("seed", 0) for r in records if r.get("model") == "tfc"}
    return HARDWARE_SEED if HARDWARE_SEED in seeds or not seeds else min(seeds)


def _geometry(record: dict[str, Any]) -> str:
    dataset = record.get("dataset")
    if dataset not in STORED_SHAPES:
        return ""
    return geometry_text(dataset, record.get("input_size"))


def _mean_std(values: list[float]) -> str:
    """Percent, with the sample standard deviation when there are several seeds."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def _per_seed(rows: list[dict[str, Any]], field: str) -> list[float]:
    """One value per seed (the points of one seed share a trained model)."""
    by_seed: dict[int, float] = {}
    for r in rows:
        if r.get(field) is not None:
            by_seed.setdefault(int(r.get("seed") or 0), float(r[field]))
    return [by_seed[k] for k in sorted(by_seed)]


def paper_folding_table(records: list[dict[str, Any]]) -> Table:
    rows, starts = [], []
    seed = _hardware_seed(records)
    for bits in TFC_BITS:
        first = True
        for name in PAPER_FOLDINGS:
            matches = [
                r for r in records
                if r.get("model") == "tfc" and r.get("weight_quant") == "int"
                and r.get("weight_bits") == bits and paper_name(r) == name
                and r.get("seed", 0) == seed
            ]
            if not matches:
                continue
            if first:
                starts.append(len(rows))
            r = next((m for m in matches if m.get("status") == "ok"), matches[0])
            head = [f"W{bits}A{bits}" if first else "", name, _geometry(r)]
            first = False
            if r["status"] != "ok":
                kind = "n/a" if record_outcome(r) == "not_applicable" else "failed"
                rows.append([*head, kind, "", "", "", "", "", _reason(r)])
                continue
            rows.append([
                *head, f"{r['est_fps']:,.0f}", f"{r['est_latency_ns'] / 1000:,.2f}",
                f"{r['est_max_cycles']:,}", f"{r['lut']:,.0f}", f"{r['bram18']:,.0f}",
                f"{r['dsp']:,.0f}", "yes" if _fits_finn(r) else "no (over budget)",
            ])
    return Table(
        key="paper_foldings",
        title="TFC with the paper's folding configurations (Pynq-Z1, 100 MHz, FINN estimates)",
        header=["W/A", "folding", "input (inputs)", "FPS", "latency (µs)", "cycles", "LUT",
                "BRAM18", "DSP", "fits / why not"],
        rows=rows, align=list("lllrrrrrrl"), group_starts=starts,
        note="Foldings tfc_paper_*.json (shipped with qnn-bench), each at the input geometry "
        "it was written for: (a)-(d) and (f) on images zero-padded to 32×32, (e) on the data "
        "set's own images ((e) is FINN's folding for 784 = 28×28 inputs). n/a = not "
        "applicable: the folding does not divide the layer's dimensions at that geometry "
        "((f)'s PE 8 never divides the 10 outputs), checked before FINN runs; not a "
        f"failure. Seed {seed}. {seed_dependence_note(records)}".strip(),
    )


def _reason(record: dict[str, Any]) -> str:
    """The error without its type and the list of valid values: 'layer X: SIMD=49 ...'."""
    text = str(record.get("error", "")).split(": ", 1)[-1].split("; valid ")[0]
    return text if len(text) <= 90 else text[:87] + "..."


def seed_dependence_note(records: list[dict[str, Any]]) -> str:
    """Whether FINN's estimates for folding (a) differ between seeds of the same bits.

    The cycle model depends on the folding only; LUT/BRAM estimates can depend on the
    trained weights through FINN's bit-width minimization (accumulators, thresholds).
    """
    differ = []
    compared = False
    for bits in TFC_BITS:
        builds = [r for r in _ok(records, model="tfc", weight_quant="int", weight_bits=bits)
                  if paper_name(r) == "a" and r.get("input_size") == PAPER_INPUT_SIZE["a"]]
        if len({r.get("seed") for r in builds}) < 2:
            continue
        compared = True
        for key, label in (("est_max_cycles", "cycles"), ("lut", "LUT"),
                           ("bram18", "BRAM18"), ("dsp", "DSP")):
            values = sorted({round(float(r[key]), 1) for r in builds})
            if len(values) > 1:
                differ.append(f"W{bits}A{bits} {label} {values[0]:,.0f}–{values[-1]:,.0f}")
    if not compared:
        return ""
    if not differ:
        return "Folding (a) was built for every seed: FINN's estimates are identical."
    return ("Folding (a) was built for every seed; FINN's estimates differ with the trained "
            "weights (its bit-width minimization) at " + "; ".join(differ) + ".")


def span_table(records: list[dict[str, Any]]) -> Table:
    rows = []
    seed = _hardware_seed(records)
    for bits in TFC_BITS:
        ok = {paper_name(r): r for r in _ok(records, model="tfc", weight_quant="int",
                                              weight_bits=bits, seed=seed)
              if paper_name(r)}
        if len(ok) < 2:
            continue
        fast, slow = ok.get("a"), ok.get("c")
        paper_span = f"{fast['est_fps'] / slow['est_fps']:,.0f}×" if fast and slow else "–"
        slowest = min(ok.values(), key=lambda r: r["est_fps"])
        fastest = max(ok.values(), key=lambda r: r["est_fps"])
        rows.append([
            f"W{bits}A{bits}",
            f"{fast['est_fps']:,.0f}" if fast else "–",
            f"{slow['est_fps']:,.0f}" if slow else "–",
            paper_span,
            f"{paper_name(slowest)}: {slowest['est_fps']:,.0f}",
            f"{fastest['est_fps'] / slowest['est_fps']:,.0f}×",
            f"{PAPER_SPAN}× measured, {PAPER_CYCLE_SPAN}× cycle model",
        ])
    return Table(
        key="folding_span", title="Throughput span across the paper's foldings",
        header=["W/A", "a (FPS)", "c (FPS)", "span a / c", "slowest valid (FPS)",
                "full range", "paper (a vs c)"],
        rows=rows, align=list("lrrrrrl"),
        note="The paper's span compares its fastest folding (a, 64 cycles per image on 1,024 "
        "inputs) with (c) (4,096 cycles: the 64×64 hidden layers fully folded). At 1,024 "
        "inputs (d)'s first layer (PE 2, SIMD 2) needs 16,384 cycles, so the full range "
        "over every valid folding is wider.",
    )


def accuracy_tfc_table(records: list[dict[str, Any]]) -> Table:
    rows = []
    tfc = [r for r in _ok(records, model="tfc") if paper_name(r)]
    sizes = sorted({r.get("input_size") for r in tfc}, key=lambda v: (v is None, v or 0))
    seeds_seen: set[int] = set()
    for size in sizes:
        for quant in ("int", "pot"):
            at = [r for r in tfc if r.get("weight_quant") == quant
                  and r.get("input_size") == size]
            if not at:
                continue
            cells, seen = [], set()
            for bits in TFC_BITS:
                values = _per_seed([r for r in at if r["weight_bits"] == bits], "accuracy")
                seen.add(len(values))
                cells.append(_mean_std(values))
            seeds_seen |= {int(r.get("seed") or 0) for r in at}
            baseline = _mean_std(_per_seed(at, "fp32_accuracy")) if quant == "int" else ""
            seeds = "/".join(str(n) for n in sorted(seen - {0})) or "0"
            rows.append([f"TFC ({quant}), {_geometry(at[0])}", *cells, baseline, seeds])
    cnv = _ok(records, model="cnv")
    if cnv:
        cells = [_mean_std(_per_seed([r for r in cnv if r["weight_bits"] == b], "accuracy"))
                 if b in CNV_BITS else "" for b in TFC_BITS]
        rows.append(["CNV (int), 32×32 frame", *cells,
                     _mean_std(_per_seed(cnv, "fp32_accuracy")), "1"])
    several = len(seeds_seen) > 1
    return Table(
        key="accuracy", title="Top-1 test accuracy (%) by bit width (W = A)"
        + (", mean ± std over seeds" if several else ""),
        header=["model, input (inputs)", *[f"{b} bits" for b in TFC_BITS], "FP32", "seeds"],
        rows=rows, align=["l", *"r" * (len(TFC_BITS) + 2)],
        note=(f"Mean ± sample standard deviation over seeds {_joined(seeds_seen)}"
              "; differences between bit widths smaller than about two standard deviations "
              "are seed noise. " if several else "One seed per cell. ")
        + "Paper (TFC, Fashion-MNIST, 40 epochs): A2W2 87.15, A4W4 87.76, A8W8 87.71 %.",
    )


def _joined(values: set[int]) -> str:
    return ", ".join(map(str, sorted(values)))


def pot_table(records: list[dict[str, Any]]) -> Table:
    rows = []
    seed = _hardware_seed(records)
    for bits in POT_BITS:
        for quant in ("int", "pot"):
            at = [r for r in _ok(records, model="tfc", weight_quant=quant, weight_bits=bits)
                  if paper_name(r) == "a"]
            hw = [r for r in at if r.get("seed", 0) == seed]
            if not hw:
                continue
            r = hw[0]
            wtypes = sorted({t.get("weight", "?") for t in r["layer_datatypes"].values()})
            distinct = max(r.get("weight_distinct_values", {}).values(), default=0)
            rows.append([
                f"W{bits}A{bits}", quant, _mean_std(_per_seed(at, "accuracy")),
                ", ".join(wtypes), str(distinct), f"{r['lut']:,.0f}", f"{r['bram18']:,.0f}",
                f"{r['dsp']:,.0f}",
            ])
    return Table(
        key="int_vs_pot",
        title="Integer vs power-of-two weights (TFC, folding a, 32×32 input)",
        header=["W/A", "weights", "accuracy (%)", "FINN weight type", "distinct weights",
                "LUT", "BRAM18", "DSP"],
        rows=rows, align=list("llrlrrrr"),
        note="FINN stores power-of-two weights as plain integers, so its estimates do not "
        "credit shift-based multipliers; the distinct-value count shows the smaller set. "
        f"Accuracy: mean ± std over seeds; hardware: seed {seed}.",
    )


def _fits_finn(record: dict[str, Any]) -> bool:
    """The fit verdict on FINN's estimates, which these tables show (`fits` is on the
    calibrated costs; records from before calibration have only `fits`, on FINN's)."""
    verdict = record.get("fits_finn")
    return bool(record["fits"] if verdict is None else verdict)


def cnv_table(records: list[dict[str, Any]]) -> Table:
    rows = []
    for bits in CNV_BITS:
        for r in _ok(records, model="cnv", weight_bits=bits):
            rows.append([
                f"W{bits}A{bits}", r.get("folding_id") or "", str(r.get("epochs", "")),
                f"{100 * r['accuracy']:.2f}", f"{r['est_fps']:,.0f}", f"{r['lut']:,.0f}",
                f"{r['bram18']:,.0f}", f"{r['dsp']:,.0f}", "yes" if _fits_finn(r) else "no",
            ])
    return Table(
        key="cnv", title="CNV by bit width (FINN estimates, Pynq-Z1, 100 MHz)",
        header=["W/A", "folding", "epochs", "accuracy (%)", "FPS", "LUT", "BRAM18", "DSP",
                "fits"],
        rows=rows, align=list("llrrrrrrl"),
        note="" if rows else "no CNV runs in these results (`reproduce --quick` skips CNV)",
    )


def validation_table(rows_in: list[dict[str, Any]]) -> Table:
    rows = [
        [r["design"], f"{r['board']} @ {r['clock_mhz']:.0f} MHz",
         f"{r['est_max_cycles']:,} ({r['published_est_cycles']:,})", f"{r['est_fps']:,.0f}",
         r["measured"], f"{r['est_over_measured']:.2f}", r["est_bottleneck"]]
        for r in rows_in
    ]
    return Table(
        key="validation", title="FINN estimates vs published on-board measurements",
        header=["design", "board", "est. cycles (published est.)", "est. FPS",
                "measured FPS", "est. / measured", "bottleneck"],
        rows=rows, align=list("llrrrrl"),
        note="Published foldings from FINN's BNN-PYNQ examples; weights do not affect these "
        "estimates. TFC on the board is limited by its I/O, not the accelerator.",
    )


def reproduction_tables(
    records: list[dict[str, Any]], validation: list[dict[str, Any]]
) -> list[Table]:
    return [
        accuracy_tfc_table(records), paper_folding_table(records), span_table(records),
        pot_table(records), pot_hardware_table(records, _hardware_seed(records)),
        cnv_table(records), validation_table(validation),
    ]


def measured_rtl_tables(df: pd.DataFrame) -> list[Table]:
    """FINN's estimates against the measured RTL layers (and the layers left to the
    estimate) when the results hold `--target rtl` records; none otherwise.

    The HTML report has them among its standard tables; this puts them beside the
    study's own tables in `tables.md` and the CSVs.
    """
    from bench.report.tables import rtl_tables

    return [t for t in rtl_tables(df) if not t.empty]


def tables_markdown(tables: list[Table]) -> str:
    from bench.report.text import table_to_markdown

    return "# Reproduction tables\n\n" + "\n".join(table_to_markdown(t) for t in tables)


def table_csv(table: Table) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.header)
    writer.writerows(table.rows)
    return buffer.getvalue()
