"""The record schema: old records still read, bad files are named and never half-used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.core.record import SCHEMA_VERSION, Record, RecordError, scalar_columns
from bench.core.spec import make_spec
from bench.engine.store import Store
from bench.report.collect import bad_record_files, collect
from bench.run.point import finished_record

# A record exactly as the version before `schema_version` wrote it (trimmed per-layer data).
V1_RECORD = {
    "run_id": "tfc-digits-w2a2-int-pe4simd4-Pynq-Z1-0123456789", "model": "tfc",
    "dataset": "digits", "weight_bits": 2, "act_bits": 2, "input_bits": 8,
    "weight_quant": "int", "seed": 0, "epochs": 3, "batch_size": 100, "lr": 0.01,
    "accuracy": 0.9, "fp32_accuracy": None,
    "folding": [{"node": "MVAU_hls_0", "op_type": "MVAU_hls", "pe": 4, "simd": 4,
                 "requested_pe": 4, "requested_simd": 4}],
    "folding_strategy": "uniform", "folding_label": "pe4simd4",
    "folding_spec": {"strategy": "uniform", "pe": 4, "simd": 4},
    "est_fps": 390625.0, "est_latency_ns": 10000.0, "est_max_cycles": 256,
    "est_critical_path_cycles": 1000, "est_bottleneck": "MVAU_hls_0", "lut": 2667.0,
    "bram18": 4.0, "uram": 0.0, "dsp": 0.0, "per_layer": {}, "layer_datatypes": {},
    "weight_distinct_values": {}, "device": "Pynq-Z1", "part": "xc7z020clg400-1",
    "clk_ns": 10.0, "utilization": {"lut": 0.05}, "fits": True, "export_max_abs_err": 1e-7,
    "export_mismatched_samples": 0, "verify_ok": True, "verify_max_abs_err": 1e-7,
    "verify_samples": 64, "verify_argmax_agreement": 1.0, "verify_mismatched_samples": 0,
    "pareto_front": False, "target": "estimate", "status": "ok", "error": None,
    "failed_stage": None, "timings_s": {"train": 1.0}, "cached_stages": [],
    "versions": {"torch": "2.13.0"}, "created_at": "2026-11-21T10:00:00+00:00",
}


V2_RECORD = {**{k: v for k, v in V1_RECORD.items() if k != "folding_label"},
             "folding_id": "pe4simd4", "schema_version": 2}


def write(runs: Path, name: str, text: str) -> Path:
    runs.mkdir(parents=True, exist_ok=True)
    path = runs / name
    path.write_text(text)
    return path


def test_a_record_of_the_previous_version_is_read_and_migrated(tmp_path):
    path = write(tmp_path / "runs", "old.json", json.dumps(V1_RECORD))
    record = Record.read(path)
    assert record.schema_version == 1
    assert record.folding_id == "pe4simd4"
    df = collect(tmp_path)
    assert list(df["folding_id"]) == ["pe4simd4"]
    assert list(df["folding_label"]) == ["PE4/SIMD4"]
    assert list(df["lut"]) == [2667.0]


def test_a_record_from_before_calibrated_costs_reads_as_finns_default_build(tmp_path):
    write(tmp_path / "runs", "v2.json", json.dumps(V2_RECORD))
    record = Record.read(tmp_path / "runs" / "v2.json")
    assert record.impl == "hls" and record.cal_lut is None and record.cost_coverage is None
    df = collect(tmp_path)
    assert list(df["cost_lut"]) == [2667.0] and list(df["cost_basis"]) == ["FINN"]


def test_new_records_carry_the_schema_version(tmp_path):
    current = {**V2_RECORD, "schema_version": SCHEMA_VERSION}
    record = Record.from_dict(current)
    assert json.loads(record.to_json()) == {**Record.from_dict(current).model_dump(),
                                            "schema_version": SCHEMA_VERSION}
    assert Record.from_dict(json.loads(record.to_json())) == record


@pytest.mark.parametrize("text,problem", [
    ('{"hello": "world"}', "run_id"),
    (json.dumps(V1_RECORD)[:200], "unreadable"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({**V1_RECORD, "est_fps": None}), "an ok record needs est_fps"),
    (json.dumps({**V1_RECORD, "accuracy": 1.5}), "accuracy must be in 0..1"),
    (json.dumps(V1_RECORD).replace('"est_fps": 390625.0', '"est_fps": Infinity'), "est_fps"),
    (json.dumps({**V2_RECORD, "schema_version": 99}), "schema_version 99"),
    (json.dumps({**V2_RECORD, "folding_label": "x"}), "folding_label"),
    (json.dumps({**V1_RECORD, "status": "failed"}), "a failed record needs error"),
], ids=["foreign", "truncated", "list", "no-fps", "accuracy", "infinity", "version",
        "unknown-field", "failed-without-error"])
def test_a_bad_record_file_is_named_and_left_out(tmp_path, text, problem):
    good = write(tmp_path / "runs", "good.json", json.dumps(V1_RECORD))
    bad = write(tmp_path / "runs", "bad.json", text)
    with pytest.raises(RecordError) as err:
        Record.read(bad)
    assert str(bad) in str(err.value) and problem in str(err.value)
    assert len(str(err.value).splitlines()) == 1
    Record.read(good)
    with pytest.warns(UserWarning, match="bad.json"):
        df = collect(tmp_path)
    assert list(df["run_id"]) == [V1_RECORD["run_id"]]
    assert [str(e).split(":")[0] for e in bad_record_files(tmp_path)] == [str(bad)]


def test_an_unusable_record_does_not_count_as_a_finished_point(tmp_path):
    spec = make_spec(weight_bits=2, act_bits=2)
    store = Store(tmp_path)
    write(store.runs_dir, f"{spec.run_id()}.json", '{"hello": "world"}')
    with pytest.warns(UserWarning, match="will be run again"):
        assert finished_record(spec, store, retry_failed=False) is None


def test_table_columns_and_types_come_from_the_schema():
    kinds = scalar_columns()
    assert kinds["weight_bits"] == "int" and kinds["accuracy"] == "float"
    assert kinds["fits"] == "bool" and kinds["model"] == "str"
    assert "traceback" not in kinds and "per_layer" not in kinds


def test_collect_and_report_list_the_files_they_leave_out(tmp_path, capsys):
    from bench.cli import main

    write(tmp_path / "runs", "good.json", json.dumps(V1_RECORD))
    bad = write(tmp_path / "runs", "bad.json", '{"hello": "world"}')
    assert main(["collect", "--results-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "collected 1 records" in captured.out
    assert "1 record file(s) left out" in captured.err and str(bad) in captured.err
    assert main(["report", "--results-dir", str(tmp_path)]) == 0
    assert str(bad) in capsys.readouterr().err
