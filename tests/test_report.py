"""Tables and figures are functions of the collected DataFrame; check their content."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_collect import (
    failed_record,
    make_record,
    routed_record,
    rtl_layers,
    rtl_record,
    sweep_records,
    write_records,
)

from bench.report.collect import collect, records_to_frame
from bench.report.figures import (
    FIGURES,
    FigureSkipped,
    fig_accuracy_vs_bits,
    fig_fps_vs_folding,
    fig_resources_vs_folding,
    fig_rtl_vs_estimate,
)
from bench.report.hw_accuracy import hw_accuracy_table
from bench.report.style import BIT_COLORS, bits_color
from bench.report.tables import (
    accuracy_table,
    build_tables,
    hardware_table,
    pareto_mask,
    pareto_optimal,
    pareto_table,
    rtl_tables,
    utilization_table,
)
from bench.report.text import latex_escape, table_to_latex, table_to_markdown
from bench.report.write import write_report


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_pdf(path: Path) -> None:
    data = path.read_bytes()
    assert data[:5] == b"%PDF-", f"{path} is not a PDF"
    assert data.rstrip().endswith(b"%%EOF")
    assert len(data) > 1000


# -- tables -------------------------------------------------------------------------------

def test_accuracy_table_cells_are_the_record_accuracies() -> None:
    df = records_to_frame(sweep_records())
    table = accuracy_table(df)
    assert table.header == ["model", "data set", "quantizer", "W2A2", "W4A4", "W8A8", "FP32"]
    # each of the 3 foldings per bit width is the same training: counted once, no "±"
    assert table.rows == [["tfc", "digits", "int", "93.31", "96.10", "96.66", "97.22"]]
    assert table.data.loc[0, "W2A2"] == pytest.approx(93.31)


def test_hw_accuracy_table_counts_each_network_once_and_shows_the_difference() -> None:
    hw = {"hw_accuracy_samples": 360}
    records = [
        # two foldings of one network: one row; two seeds: averaged
        make_record(4, 4, seed=0, accuracy=0.90, hw_accuracy=0.89, **hw),
        make_record(4, 8, seed=0, accuracy=0.90, hw_accuracy=0.89, **hw),
        make_record(4, 4, seed=1, accuracy=0.94, hw_accuracy=0.95, **hw),
        make_record(2, 4, accuracy=0.80, hw_accuracy=0.80, **hw),
        make_record(8, 4, accuracy=0.97),  # no hardware accuracy measured: no row
    ]
    table = hw_accuracy_table(records_to_frame(records))
    assert [row[2] for row in table.rows] == ["W2A2", "W4A4"]
    w2, w4 = table.rows
    assert w4[3:] == ["92.00", "92.00", "+0.00", "360", "2"]
    assert w2[3:6] == ["80.00", "80.00", "+0.00"]
    shifted = [make_record(4, 4, accuracy=0.90, hw_accuracy=0.875, **hw)]
    assert hw_accuracy_table(records_to_frame(shifted)).rows[0][5] == "-2.50"
    assert "hw_accuracy" in [t.key for t in build_tables(records_to_frame(records))]
    assert hw_accuracy_table(records_to_frame([make_record(4, 4)])).rows == []


def test_stitched_table_sets_simulated_against_estimated_throughput() -> None:
    from bench.report.measured import rtl_stitched_table

    stitched = {**rtl_record(4), "rtl_stitched_ok": True, "rtl_cycles_per_image": 256.0,
                "rtl_latency_cycles": 756, "rtl_stitched_lut": 3577, "rtl_stitched_ff": 3974,
                "rtl_stitched_bram18": 7, "rtl_stitched_dsp": 16}
    stitched["rtl_fps"] = 0.5 * stitched["est_fps"]
    table = rtl_stitched_table(records_to_frame([stitched, rtl_record(2)]))
    assert len(table.rows) == 1  # the other record was measured per layer only
    row = dict(zip(table.header, table.rows[0], strict=True))
    assert row["bit-exact"] == "yes" and row["×"] == "0.50"
    assert row["LUT"] == "3,577" and row["LUT layers"] == "500" and row["DSP"] == "16"
    assert row["latency (cycles)"] == "756"
    assert rtl_stitched_table(records_to_frame([rtl_record(2)])).rows == []


def test_accuracy_table_seeds_quantizers_and_no_fp32() -> None:
    records = [
        make_record(2, 1, seed=0, accuracy=0.90), make_record(2, 4, seed=0, accuracy=0.90),
        make_record(2, 16, seed=0, accuracy=0.90), make_record(2, 4, seed=1, accuracy=0.96),
        make_record(4, 4, quant="pot", accuracy=0.95), make_record(2, 4, act_bits=4,
                                                                   accuracy=0.94),
    ]
    table = accuracy_table(records_to_frame(records))
    assert "FP32" not in table.header
    assert table.header[3:] == ["W2A2", "W2A4", "W4A4"]
    int_row, pot_row = table.rows
    assert int_row[2] == "int" and pot_row[2] == "pot"
    # two seeds (each counted once, however many foldings): mean 93.00, sample std 4.24
    assert table.column("W2A2")[0] == "93.00 ± 4.24"
    assert table.column("W2A4") == ["94.00", ""]
    assert table.column("W4A4") == ["", "95.00"]
    assert "seeds" in table.note


def test_hardware_table_values_order_and_groups() -> None:
    records = [make_record(b, p) for b in (8, 2) for p in (16, 1, 4)]
    records.append(make_record(8, 64))  # far too big for a Pynq-Z1
    table = hardware_table(records_to_frame(records))
    assert "Pynq-Z1 @ 100 MHz" in table.title
    assert table.header == ["W/A", "folding", "FPS", "latency (µs)", "cycles", "LUT", "BRAM18",
                            "DSP", "fits"]
    assert table.column("folding") == ["PE1/SIMD1", "PE4/SIMD4", "PE16/SIMD16",
                                       "PE1/SIMD1", "PE4/SIMD4", "PE16/SIMD16", "PE64/SIMD64"]
    assert table.column("W/A") == ["W2A2", "", "", "W8A8", "", "", ""]
    assert table.group_starts == [0, 3]
    by_label = {(r["weight_bits"], r["folding_spec"]["pe"]): r for r in records}
    expected = by_label[(2, 1)]
    row = table.rows[0]
    assert row[2] == f"{expected['est_fps']:,.0f}" == "24,414"
    assert row[3] == f"{expected['est_latency_ns'] / 1000:,.2f}"
    assert row[4] == "4,096"
    assert row[5] == f"{expected['lut']:,.0f}"
    assert table.column("fits")[-1] == "no"
    assert table.column("fits")[0] == "yes"


def test_hardware_table_keeps_varying_context_as_columns_and_shows_uram() -> None:
    records = [make_record(4, 4), make_record(4, 4, board="ZCU104", uram=3.0)]
    table = hardware_table(records_to_frame(records))
    assert table.header[:2] == ["device", "W/A"]
    assert "URAM" in table.header
    assert table.column("device") == ["Pynq-Z1", "ZCU104"]
    assert table.column("URAM") == ["0", "3"]


def test_utilization_table_percent_of_board_capacity() -> None:
    records = [make_record(b, p) for b in (2, 4) for p in (1, 16)]
    records.append(make_record(4, 16, board="ZCU104"))
    df = records_to_frame(records)
    table = utilization_table(df)  # default: the board most runs used
    assert table.title.startswith("Utilization of Pynq-Z1 (xc7z020clg400-1: 53,200 LUT")
    assert "URAM (%)" not in table.header  # the xc7z020 has none and none is used
    assert len(table.rows) == 4
    lut_pct = table.column("LUT (%)")
    expected = [f"{100 * make_record(b, p)['lut'] / 53_200:.1f}" for b in (2, 4) for p in (1, 16)]
    assert lut_pct == expected
    zcu = utilization_table(df, board="ZCU104")
    assert "URAM (%)" in zcu.header and len(zcu.rows) == 1
    assert zcu.column("LUT (%)") == [f"{100 * records[-1]['lut'] / 230_400:.1f}"]
    assert utilization_table(df, board="Ultra96").empty


def test_pareto_mask_on_known_points() -> None:
    df = pd.DataFrame({
        "accuracy": [0.90, 0.90, 0.95, 0.80, np.nan, 0.90],
        "est_fps": [100.0, 100.0, 50.0, 1000.0, 1e9, 100.0],
        "cost_lut": [10.0, 20.0, 30.0, 40.0, 1.0, 10.0],
    })
    # 1 is dominated by 0 (more LUTs); 5 duplicates 0 (neither dominates); 4 has no accuracy
    assert pareto_mask(df).tolist() == [True, False, True, True, False, True]


def test_pareto_front_and_table() -> None:
    w2_pe1, w2_pe4, w4_pe1, w4_pe4 = (make_record(2, 1), make_record(2, 4), make_record(4, 1),
                                      make_record(4, 4))
    # W4A4 PE1 is more accurate at the same FPS with fewer LUTs: W2A2 PE1 is dominated.
    w2_pe1["lut"] = w4_pe1["lut"] + 100
    df = records_to_frame([w2_pe1, w2_pe4, w4_pe1, w4_pe4, failed_record()])
    front = dict(zip(df["run_id"], pareto_optimal(df), strict=True))
    assert front == {w2_pe1["run_id"]: False, w2_pe4["run_id"]: True, w4_pe1["run_id"]: True,
                     w4_pe4["run_id"]: True, failed_record()["run_id"]: False}
    table = pareto_table(df)
    assert [row[:2] for row in table.rows] == [["W2A2", "PE4/SIMD4"], ["W4A4", "PE1/SIMD1"],
                                               ["W4A4", "PE4/SIMD4"]]  # fewest LUTs first
    assert table.column("accuracy (%)") == ["93.31", "96.10", "96.10"]
    # a record's own `pareto_front` (from a Pareto folding search: FPS vs LUT within a
    # budget) is a different question and does not change the accuracy × FPS × LUT front
    w2_pe1["pareto_front"], w2_pe4["pareto_front"] = True, False
    again = records_to_frame([w2_pe1, w2_pe4, w4_pe1, w4_pe4])
    assert dict(zip(again["run_id"], pareto_optimal(again), strict=True)) == {
        w2_pe1["run_id"]: False, w2_pe4["run_id"]: True, w4_pe1["run_id"]: True,
        w4_pe4["run_id"]: True}


def test_markdown_and_latex_rendering() -> None:
    df = records_to_frame([*sweep_records(), make_record(2, 4, quant="pot")])
    tables = build_tables(df)
    assert [t.key for t in tables] == ["accuracy", "hw_accuracy", "hardware", "utilization",
                                       "pareto", "not_applicable", "rtl", "rtl_unmeasured",
                                       "rtl_stitched", "failures"]
    hw = tables[2]
    md = table_to_markdown(hw).splitlines()
    body = [line for line in md if line.startswith("|")]
    assert len(body) == 2 + len(hw.rows)
    assert all(line.count("|") == len(hw.header) + 1 for line in body)
    assert body[1].startswith("|:---|:---|---:")
    tex = table_to_latex(hw)
    assert r"\begin{tabular}{llrrrrrrl}" in tex
    assert r"latency ($\mu$s)" in tex
    assert tex.count(r"\midrule") == 1 + len(hw.group_starts) - 1
    failures = table_to_latex(tables[-1])
    assert r"bad \& odd\_chars 100\%" in failures
    assert latex_escape("a_b%c&d#e") == r"a\_b\%c\&d\#e"
    # markdown escapes the pipe inside the error message
    assert r"step_hw_codegen failed: \| bad" in table_to_markdown(tables[-1])


# -- figures ------------------------------------------------------------------------------

def test_accuracy_figure_draws_fp32_baseline_dashed() -> None:
    df = records_to_frame(sweep_records())
    ax = fig_accuracy_vs_bits(df).axes[0]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1
    assert dashed[0].get_ydata()[0] == pytest.approx(97.22)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "8"]
    assert "%" in ax.get_ylabel()
    no_fp32 = records_to_frame([make_record(2, 1), make_record(4, 1)])
    assert not [ln for ln in fig_accuracy_vs_bits(no_fp32).axes[0].lines
                if ln.get_linestyle() == "--"]


def test_fps_and_resource_figures_use_bit_colours_and_capacity() -> None:
    df = records_to_frame(sweep_records())
    ax = fig_fps_vs_folding(df).axes[0]
    assert ax.get_yscale() == "log"
    labelled = {ln.get_label(): ln for ln in ax.lines if not ln.get_label().startswith("_")}
    assert set(labelled) == {"W2A2", "W4A4", "W8A8"}
    assert labelled["W4A4"].get_color() == bits_color(4)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["PE1/SIMD1", "PE4/SIMD4",
                                                             "PE16/SIMD16"]
    fig = fig_resources_vs_folding(df)
    lut_ax = fig.axes[0]
    capacity_lines = [ln for ln in lut_ax.lines if "capacity" in ln.get_label()]
    assert len(capacity_lines) == 1 and capacity_lines[0].get_ydata()[0] == 53_200


def test_pareto_search_points_stay_off_the_folding_axes() -> None:
    records = [make_record(2, 1), make_record(2, 8), make_record(4, 1)]
    for index, pe in enumerate((16, 4)):
        records.append(make_record(2, pe, folding_strategy="pareto", folding_label="pareto0.8",
                                   folding_spec={"strategy": "pareto",
                                                 "max_utilization": 0.8},
                                   pareto_front=True, pareto_index=index,
                                   run_id=f"search-{index}"))
    df = records_to_frame(records)
    ticks = [t.get_text() for t in fig_fps_vs_folding(df).axes[0].get_xticklabels()]
    assert ticks == ["PE1/SIMD1", "PE8/SIMD8"]
    resource_ticks = [t.get_text() for t in
                      fig_resources_vs_folding(df).axes[0].get_xticklabels()]
    assert resource_ticks == ticks
    assert {"pareto0.8 #0", "pareto0.8 #1"} <= set(hardware_table(df).column("folding"))
    # with nothing but search points they are drawn after all
    only = records_to_frame(records[3:])
    only_ticks = [t.get_text() for t in fig_fps_vs_folding(only).axes[0].get_xticklabels()]
    assert only_ticks == ["pareto0.8 #1", "pareto0.8 #0"]  # PE4 is less parallel than PE16


def test_bit_colours_are_fixed_and_distinct() -> None:
    colours = [bits_color(b) for b in range(1, 9)]
    assert len(set(colours)) == 8
    assert colours == [BIT_COLORS[b] for b in range(1, 9)]
    assert bits_color("4") == bits_color(4) and bits_color(None) not in colours


@pytest.mark.parametrize("case", ["empty", "only_failed", "single", "mixed_precision",
                                  "missing_optional"])
def test_degenerate_inputs_do_not_crash(tmp_path: Path, case: str) -> None:
    records = {
        "empty": [],
        "only_failed": [failed_record(), failed_record(4, 8)],
        "single": [make_record(4, 4)],
        "mixed_precision": [make_record(2, 4, act_bits=4), make_record(4, 4, act_bits=2),
                            make_record(4, 8, act_bits=2)],
        "missing_optional": [{"run_id": "bare", "status": "ok", "model": "tfc",
                              "weight_bits": 2, "act_bits": 2, "accuracy": 0.9,
                              "est_fps": 1e5}],
    }[case]
    df = records_to_frame(records)
    paths = write_report(df, tmp_path / "report", dpi=40, pdf=False)
    for key in ("markdown", "latex", "html"):
        assert paths[key].stat().st_size > 0
    made = {k.removesuffix("_png") for k in paths if k.endswith("_png")}
    md = paths["markdown"].read_text()
    if case in ("empty", "only_failed"):
        assert made == set()
        assert md.count("_skipped:") == len(FIGURES)
    if case in ("single", "mixed_precision"):  # no --target rtl/route record
        assert made == {f.key for f in FIGURES} - {"rtl_vs_estimate", "routed_fmax"}
    if case == "mixed_precision":
        labels = [t.get_text() for t in fig_accuracy_vs_bits(df).axes[0].get_xticklabels()]
        assert labels == ["W2A4", "W4A2"]
    if case == "missing_optional":
        assert made == {"accuracy_vs_bits", "fps_vs_folding"}
    if case == "only_failed":
        assert "step_hw_codegen" in md


def test_write_report_from_collected_frame_without_run_directory(tmp_path: Path) -> None:
    write_records(tmp_path / "results" / "runs",
                  [*sweep_records(), rtl_record(4), routed_record(4)])
    df = collect(tmp_path / "results")
    shutil.rmtree(tmp_path / "results")  # reports only need the DataFrame
    paths = write_report(df, tmp_path / "out", title="TFC sweep")
    for fig in FIGURES:  # every figure, as a real PNG and PDF
        width, height = png_size(paths[f"{fig.key}_png"])
        assert width > 300 and height > 200
        assert_pdf(paths[f"{fig.key}_pdf"])
    md = paths["markdown"].read_text()
    assert md.startswith("# TFC sweep")
    assert md.count("](figures/") == 2 * len(FIGURES)  # image and PDF link each
    tex = paths["latex"].read_text()
    non_empty = [t for t in build_tables(df) if not t.empty]
    assert tex.count(r"\begin{tabular}") == len(non_empty) == 7


# -- estimated vs measured RTL layers ---------------------------------------------------------

def test_rtl_table_sums_layer_types_and_gives_ratios() -> None:
    df = records_to_frame([make_record(2, 4), rtl_record(2), rtl_record(8)])
    table, unmeasured, stitched = rtl_tables(df)
    assert "Yosys synth_xilinx, before place and route" in table.title
    data = table.data.set_index(["weight_bits", "op_type"])
    mvau = data.loc[(2, "MVAU_rtl")]
    assert mvau["layers"] == 1
    assert mvau["lut_total"] == 400 and mvau["ratio_lut"] == pytest.approx(1.0)  # logic+RAM
    assert mvau["ratio_dsp"] == pytest.approx(0.5)
    thr = data.loc[(8, "Thresholding_rtl")]
    assert thr["layers"] == 2 and thr["est_lut"] == 800 and thr["lut_total"] == 400
    assert thr["ratio_lut"] == pytest.approx(0.5)
    assert thr["ratio_cycles"] == pytest.approx(48 / 32)
    assert pd.isna(thr["ratio_dsp"]), "a zero estimate has no ratio"
    assert table.column("layer type")[:2] == ["MVAU", "Thresholding"]
    assert len(table.rows) == 4  # two records x two measured types; the HLS layer is not
    assert unmeasured.rows == [["tfc", "W2A2", "Pool_hls", "HLS", "1", "150",
                                "FINN has no RTL variant of Pool"],
                               ["tfc", "W8A8", "Pool_hls", "HLS", "1", "150",
                                "FINN has no RTL variant of Pool"]]
    assert stitched.empty  # measured per layer only


def test_rtl_table_and_figure_are_skipped_without_rtl_records() -> None:
    df = records_to_frame(sweep_records())
    tables = rtl_tables(df)
    assert tables, "rtl_tables gave no tables to check"
    assert all(t.empty and "--target rtl" in t.note for t in tables)
    with pytest.raises(FigureSkipped, match="--target rtl"):
        fig_rtl_vs_estimate(df)


def test_rtl_figure_plots_ratios_per_layer_type() -> None:
    df = records_to_frame([rtl_record(2), rtl_record(8)])
    fig = fig_rtl_vs_estimate(df)
    lut, ff, dsp, cycles = fig.axes[:4]
    assert "before place and route" in fig.get_suptitle()
    assert [t.get_text() for t in lut.get_xticklabels()] == ["MVAU", "Thresholding"]
    ratios = sorted(float(y) for c in lut.collections for _, y in c.get_offsets())
    assert ratios == pytest.approx([0.5, 0.5, 1.0, 1.0])
    assert sorted(float(y) for c in ff.collections for _, y in c.get_offsets()) == [
        160, 160, 500, 500]
    # thresholds have no DSP estimate: only the MVAU points are drawn
    assert len([1 for c in dsp.collections for _ in c.get_offsets()]) == 2
    assert cycles.get_yscale() == "log"


def test_run_summary_names_the_layers_that_are_not_bit_exact() -> None:
    from bench.report.console import _failed_layers

    rows = rtl_layers(4)
    assert _failed_layers(rows) == "in at least one layer"
    rows[0] = {**rows[0], "sim_ok": False, "sim_error": "timed out after 9 cycles"}
    rows[1] = {**rows[1], "sim_ok": False}
    assert _failed_layers(rows) == ("in MVAU_rtl_0: timed out after 9 cycles; "
                                    "Thresholding_rtl_0: output differs from FINN")


def test_run_summary_of_a_hardware_only_record_says_no_data(tmp_path: Path) -> None:
    """`--dataset none` records have no accuracy; the summary must still print."""
    import io

    from rich.console import Console

    from bench.core.record import Record
    from bench.report.console import print_run_summary
    from bench.run.point import RunOutcome

    data = make_record(2, 4, dataset="none")
    data.update(accuracy=None, est_latency_ns=None, verify_max_abs_err=None)
    record = Record.model_validate(data)
    out = io.StringIO()
    print_run_summary(RunOutcome(record, tmp_path / "r.json", cached=False),
                      Console(file=out, width=200))
    text = out.getvalue()
    assert "accuracy (test)" in text and "no data (dataset none)" in text
    assert "FPS" in text and f"record: {tmp_path / 'r.json'}" in text


def test_markdown_report_escapes_html_from_record_fields(tmp_path: Path) -> None:
    """Record fields are data: report.md must not carry their markup (report.html does not
    either), whatever a Markdown viewer would do with it."""
    evil = "<script>alert(1)</script>"
    failed = {**failed_record(), "error": f"RuntimeError: {evil} & more"}
    records = [make_record(2, 4, model=evil), make_record(4, 4, model=evil), failed]
    paths = write_report(records_to_frame(records), tmp_path / "report", dpi=40, pdf=False,
                         title=f"sweep {evil}")
    md = paths["markdown"].read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md  # shown, as text
    assert "<script" not in md.lower() and "</script" not in md.lower()
    assert "<" not in md.replace("<br>", "")
