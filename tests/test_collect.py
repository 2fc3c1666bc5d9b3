"""The collector: records → DataFrame → CSV/Parquet.

`make_record` / `sweep_records` build realistic records (the fields `bench.run.point`
writes) without training anything; the report tests import them from here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.core.devices import get_board, utilization
from bench.report.collect import (
    COLUMNS,
    JSON_COLUMNS,
    collect,
    read_table,
    readable_folding,
    records_to_frame,
    write_tables,
)

VERSIONS = {"python": "3.11.7", "torch": "2.13.0+cpu", "brevitas": "0.13.4", "qonnx": "1.0.0",
            "finn": "1.6.1", "onnx": "1.21.0"}
# TFC on 8×8 digits: (node, input dim = SIMD divides, output dim = PE divides).
TFC_LAYERS = [("MVAU_hls_0", 64, 64), ("MVAU_hls_1", 64, 64), ("MVAU_hls_2", 64, 64),
              ("MVAU_hls_3", 64, 10)]
ACCURACY = {1: 0.8812, 2: 0.9331, 3: 0.9505, 4: 0.9610, 8: 0.9666}


def _largest_divisor(n: int, limit: int) -> int:
    return max(d for d in range(1, n + 1) if n % d == 0 and d <= limit)


def make_record(
    bits: int = 4,
    pe: int = 4,
    simd: int | None = None,
    *,
    act_bits: int | None = None,
    board: str = "Pynq-Z1",
    seed: int = 0,
    accuracy: float | None = None,
    quant: str = "int",
    model: str = "tfc",
    dataset: str = "digits",
    **extra: Any,
) -> dict[str, Any]:
    """A successful record with self-consistent estimates for a uniform folding."""
    simd = simd or pe
    act_bits = act_bits or bits
    folding, per_layer, cycles = [], {}, {}
    for node, fan_in, fan_out in TFC_LAYERS:
        p, s = _largest_divisor(fan_out, pe), _largest_divisor(fan_in, simd)
        folding.append({"node": node, "op_type": "MVAU_hls", "pe": p, "simd": s,
                        "requested_pe": pe, "requested_simd": simd})
        cycles[node] = (fan_in // s) * (fan_out // p)
        lut = round(120 + 9.5 * p * s * bits + 3 * fan_out * act_bits)
        bram = float(max(1, math.ceil(fan_in * fan_out * bits / 18432 * p / 4)))
        dsp = float(p * s // 8) if bits >= 4 else 0.0
        per_layer[node] = {"cycles": cycles[node], "lut": float(lut), "bram18": bram,
                           "uram": 0.0, "dsp": dsp}
    totals = {r: sum(v[r] for v in per_layer.values()) for r in ("lut", "bram18", "uram", "dsp")}
    b = get_board(board)
    fractions, fits = utilization(b, totals)
    max_cycles = max(cycles.values())
    record = {
        "run_id": f"{model}-{dataset}-w{bits}a{act_bits}-{quant}-pe{pe}simd{simd}-{board}-s{seed}",
        "model": model, "dataset": dataset, "weight_bits": bits, "act_bits": act_bits,
        "input_bits": 8, "weight_quant": quant, "seed": seed, "epochs": 40, "batch_size": 100,
        "lr": 0.01,
        "accuracy": ACCURACY.get(bits, 0.95) if accuracy is None else accuracy,
        "fp32_accuracy": None,
        "folding": folding, "folding_strategy": "uniform", "folding_id": f"pe{pe}simd{simd}",
        "folding_spec": {"strategy": "uniform", "pe": pe, "simd": simd},
        "est_fps": 1e8 / max_cycles, "est_latency_ns": 10.0 * sum(cycles.values()),
        "est_max_cycles": max_cycles, "est_critical_path_cycles": sum(cycles.values()),
        "est_bottleneck": max(cycles, key=cycles.get),
        **totals, "per_layer": per_layer,
        "layer_datatypes": {n: {"input": "UINT8", "weight": f"INT{bits}", "output": "UINT2"}
                            for n, _, _ in TFC_LAYERS},
        "weight_distinct_values": {n: 2**bits - 1 for n, _, _ in TFC_LAYERS},
        "device": b.name, "part": b.part, "clk_ns": 10.0, "utilization": fractions, "fits": fits,
        "export_max_abs_err": 9.5e-07, "verify_ok": True, "verify_max_abs_err": 4.8e-07,
        "verify_samples": 64, "verify_argmax_agreement": 1.0, "pareto_front": False,
        "status": "ok", "error": None, "failed_stage": None,
        "timings_s": {"train": 3.2, "export": 0.4, "hw_graph": 5.1, "verify": 0.8,
                      "estimate": 0.012},
        "cached_stages": [], "versions": dict(VERSIONS),
        "created_at": f"2026-11-21T10:{bits:02d}:{pe % 60:02d}+00:00",
    }
    record.update(extra)
    return record


def failed_record(bits: int = 8, pe: int = 64) -> dict[str, Any]:
    """What the pipeline writes when FINN fails: identity and error, no numbers."""
    return {
        "run_id": f"tfc-digits-w{bits}a{bits}-int-pe{pe}simd{pe}-Pynq-Z1-failed",
        "model": "tfc", "dataset": "digits", "weight_bits": bits, "act_bits": bits,
        "input_bits": 8, "weight_quant": "int", "seed": 0, "epochs": 40, "batch_size": 100,
        "lr": 0.01, "folding_strategy": "uniform", "folding_id": f"pe{pe}simd{pe}",
        "device": "Pynq-Z1", "clk_ns": 10.0, "status": "failed",
        "error": "FinnStepError: step_hw_codegen failed: | bad & odd_chars 100%",
        "failed_stage": "step_hw_codegen", "traceback": "Traceback (most recent call last): ...",
        "timings_s": {}, "versions": dict(VERSIONS), "created_at": "2026-11-21T11:00:00+00:00",
    }


def sweep_records() -> list[dict[str, Any]]:
    """A small benchmark: bits 2/4/8 × PE 1/4/16, an FP32 baseline, a failure."""
    records = [make_record(b, p, fp32_accuracy=0.9722) for b in (2, 4, 8) for p in (1, 4, 16)]
    records.append(failed_record())
    return records


def write_records(runs_dir: Path, records: list[dict[str, Any]]) -> None:
    runs_dir.mkdir(parents=True, exist_ok=True)
    for r in records:
        (runs_dir / f"{r['run_id']}.json").write_text(json.dumps(r, indent=2))


# -- tests --------------------------------------------------------------------------------

def test_one_row_per_record_with_flattened_utilization(tmp_path: Path) -> None:
    records = sweep_records()
    write_records(tmp_path / "runs", records)
    df = collect(tmp_path)
    assert len(df) == len(records)
    assert df["run_id"].is_unique
    assert list(df.columns[: len(COLUMNS)]) == COLUMNS
    by_id = df.set_index("run_id")
    for r in records:
        row = by_id.loc[r["run_id"]]
        assert row["weight_bits"] == r["weight_bits"]
        if r["status"] == "ok":
            assert row["accuracy"] == pytest.approx(r["accuracy"])
            assert row["est_fps"] == pytest.approx(r["est_fps"])
            for res in ("lut", "bram18", "uram", "dsp"):
                assert row[f"util_{res}"] == pytest.approx(r["utilization"][res])
            assert bool(row["fits"]) == r["fits"]
            assert row["version_finn"] == "1.6.1"
            assert row["time_estimate_s"] == pytest.approx(0.012)
    assert "traceback" not in df.columns


def test_failed_record_keeps_identity_and_has_no_numbers(tmp_path: Path) -> None:
    write_records(tmp_path / "runs", [make_record(2, 4), failed_record(8, 64)])
    df = collect(tmp_path).set_index("run_id")
    failed = df.loc["tfc-digits-w8a8-int-pe64simd64-Pynq-Z1-failed"]
    assert failed["status"] == "failed"
    assert failed["failed_stage"] == "step_hw_codegen"
    assert failed["weight_bits"] == 8
    assert failed["folding_label"] == "PE64/SIMD64"
    for col in ("accuracy", "est_fps", "lut", "util_lut"):
        assert pd.isna(failed[col]), col
    assert pd.isna(failed["fits"])
    assert failed["folding"] is None


def test_folding_label_and_parallelism() -> None:
    uniform = make_record(4, 16)
    assert readable_folding(uniform) == "PE16/SIMD16"
    old_style = make_record(4, 8, requested_pe=8, requested_simd=8)
    del old_style["folding_spec"], old_style["folding_id"]
    assert readable_folding(old_style) == "PE8/SIMD8"
    layers = make_record(2, 8, folding_strategy="layers", folding_id="layers-tfc_paper_a",
                         folding_spec={"strategy": "layers", "file": "cfg/tfc_paper_a.json",
                                       "config": {}})
    assert readable_folding(layers) == "layers:tfc_paper_a"
    target = make_record(2, 8, folding_strategy="target_fps", folding_id="fps100000",
                         folding_spec={"strategy": "target_fps", "fps": 100000})
    assert readable_folding(target) == "target 100,000 FPS"
    pareto = make_record(2, 8, folding_strategy="pareto", folding_id="pareto0.8",
                         folding_spec={"strategy": "pareto", "max_utilization": 0.8},
                         pareto_front=True, pareto_index=3)
    assert readable_folding(pareto) == "pareto0.8 #3"
    custom = make_record(2, 4, folding_strategy="search")
    del custom["folding_id"], custom["folding_spec"]
    custom["folding"][0].update(pe=16, simd=32)
    assert readable_folding(custom) == "search: 16/32 4/4 4/4 2/4"
    df = records_to_frame([uniform, custom, pareto])
    row = df.set_index("folding_label").loc["search: 16/32 4/4 4/4 2/4"]
    assert row["parallelism"] == 16 * 32 + 16 + 16 + 8
    assert row["max_pe"] == 16 and row["max_simd"] == 32
    by_label = df.set_index("folding_label")
    assert by_label.loc["PE16/SIMD16", "folding_id"] == "pe16simd16"
    assert by_label.loc["PE16/SIMD16", "requested_pe"] == 16
    assert by_label.loc["pareto0.8 #3", "pareto_index"] == 3
    assert json.loads(by_label.loc["pareto0.8 #3", "folding_spec"])["max_utilization"] == 0.8


def test_optional_and_future_fields(tmp_path: Path) -> None:
    minimal = {"run_id": "minimal", "status": "ok", "model": "tfc", "weight_bits": 3,
               "act_bits": 3, "accuracy": 0.9}
    future = make_record(4, 4, pareto_front=True, fp32_accuracy=0.97, synth_lut=1234,
                         fmax_mhz=187.5, new_metric={"a": 1, "b": 2},
                         brand_new_scalar="x")
    df = records_to_frame([minimal, future]).set_index("run_id")
    assert df.loc["minimal", "bits_label"] == "W3A3"
    assert df.loc["minimal", "folding_label"] == "unknown"
    assert pd.isna(df.loc["minimal", "util_lut"])
    assert pd.isna(df.loc["minimal", "pareto_front"])
    row = df.loc[future["run_id"]]
    assert bool(row["pareto_front"]) is True
    assert row["synth_lut"] == 1234 and row["fmax_mhz"] == pytest.approx(187.5)
    assert row["fp32_accuracy"] == pytest.approx(0.97)
    assert row["folding_label"] == "PE4/SIMD4"
    assert json.loads(row["new_metric"]) == {"a": 1, "b": 2}
    assert row["brand_new_scalar"] == "x"
    assert json.loads(row["folding"]) == future["folding"]
    assert json.loads(row["per_layer"]) == future["per_layer"]


def test_empty_and_unreadable_inputs(tmp_path: Path) -> None:
    empty = collect(tmp_path / "does-not-exist")
    assert empty.empty and set(COLUMNS + JSON_COLUMNS) <= set(empty.columns)
    runs = tmp_path / "runs"
    write_records(runs, [make_record(2, 1)])
    (runs / "broken.json").write_text("{not json")
    (runs / "list.json").write_text("[1, 2]")
    with pytest.warns(UserWarning, match="skipping"):
        df = collect(tmp_path)
    assert list(df["run_id"]) == [make_record(2, 1)["run_id"]]
    # the runs/ folder itself works too
    with pytest.warns(UserWarning):
        assert len(collect(runs)) == 1


def test_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    records = [*sweep_records(), make_record(4, 4, board="ZCU104", pareto_front=True)]
    df = records_to_frame(records)
    paths = write_tables(df, tmp_path / "out")
    assert paths["csv"].name == "collected.csv" and paths["csv"].stat().st_size > 0
    assert paths["parquet"].read_bytes()[:4] == b"PAR1"
    pd.testing.assert_frame_equal(read_table(paths["csv"]), df)
    pd.testing.assert_frame_equal(read_table(paths["parquet"]), df)
    raw = pd.read_csv(paths["csv"])
    assert len(raw) == len(records)
    assert sorted(raw["est_fps"].dropna().unique()) == sorted(
        {r["est_fps"] for r in records if r["status"] == "ok"})


def test_rows_are_sorted_by_bits_then_parallelism() -> None:
    records = [make_record(8, 1), make_record(2, 16), make_record(2, 1), make_record(8, 16)]
    df = records_to_frame(records)
    assert list(zip(df["weight_bits"], df["requested_pe"], strict=True)) == [
        (2, 1), (2, 16), (8, 1), (8, 16)]


def rtl_layers(bits: int) -> list[dict]:
    """Layer rows as `--target rtl` records them: two measured types, one HLS layer."""
    return [
        {"node": "MVAU_rtl_0", "op_type": "MVAU_rtl", "impl": "rtl", "reason": "",
         "est_lut": 400.0, "est_dsp": 4.0, "est_bram18": 0.0, "est_cycles": 100,
         "lut": 300, "lutram": 100, "ff": 500, "dsp": 2, "bram18": 0,
         "sim_cycles_per_input": 100.0, "sim_ok": True},
        {"node": "Thresholding_rtl_0", "op_type": "Thresholding_rtl", "impl": "rtl",
         "reason": "", "est_lut": 50.0 * bits, "est_dsp": 0.0, "est_bram18": 0.0,
         "est_cycles": 16, "lut": 25 * bits, "lutram": 0, "ff": 80, "dsp": 0, "bram18": 0,
         "sim_cycles_per_input": 16.0, "sim_ok": True},
        {"node": "Thresholding_rtl_1", "op_type": "Thresholding_rtl", "impl": "rtl",
         "reason": "", "est_lut": 50.0 * bits, "est_dsp": 0.0, "est_bram18": 0.0,
         "est_cycles": 16, "lut": 25 * bits, "lutram": 0, "ff": 80, "dsp": 0, "bram18": 0,
         "sim_cycles_per_input": 32.0, "sim_ok": True},
        {"node": "Pool_hls_0", "op_type": "Pool_hls", "impl": "hls",
         "reason": "FINN has no RTL variant of Pool", "est_lut": 150.0, "est_cycles": 10},
    ]


def rtl_record(bits: int) -> dict:
    return make_record(bits, 4, run_id=f"rtl-w{bits}", target="rtl",
                       rtl_layers=rtl_layers(bits), rtl_lut=300 + 50 * bits, rtl_ff=660,
                       rtl_bram18=0, rtl_dsp=2, rtl_coverage=0.75, rtl_sim_ok=True)


def routed_record(bits: int) -> dict:
    """A measured record also placed and routed (`--target route`)."""
    return {**rtl_record(bits), "run_id": f"route-w{bits}", "target": "route",
            "route_fmax_mhz": 56.5, "route_lut4": 12_197, "fmax_est_mhz": 61.4}


def test_reports_show_calibrated_costs_and_say_when_they_are_finns():
    from bench.report.collect import cost_columns

    finn_only = {"lut": 1000.0, "bram18": 4.0, "dsp": 16.0}
    assert cost_columns(finn_only) == {"cost_lut": 1000.0, "cost_bram18": 4.0,
                                       "cost_dsp": 16.0, "cost_basis": "FINN"}
    both = {**finn_only, "cal_lut": 9000.0, "cal_bram18": 0.0, "cal_dsp": 16.0,
            "cost_coverage": 1.0}
    assert cost_columns(both)["cost_lut"] == 9000.0
    assert cost_columns(both)["cost_bram18"] == 0.0
    assert cost_columns(both)["cost_basis"] == "calibrated"
    assert cost_columns({**both, "cost_coverage": 0.5})["cost_basis"] == "calibrated 50 %"
    assert cost_columns({})["cost_basis"] is None  # a failed run has no costs at all
