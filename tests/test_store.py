import csv
import json

import pytest

from bench.core.record import Record
from bench.engine.store import Store, write_json_atomic


def test_atomic_write_leaves_no_temp_files(tmp_path):
    path = tmp_path / "a" / "rec.json"
    write_json_atomic(path, {"x": 1})
    write_json_atomic(path, {"x": 2})
    assert json.loads(path.read_text()) == {"x": 2}
    assert [p.name for p in path.parent.iterdir()] == ["rec.json"]


def test_cache_entry_counts_only_when_finished(tmp_path):
    store = Store(tmp_path)
    assert not store.is_cached("train", "k")
    try:
        with store.new_entry("train", "k") as (entry, meta):
            (entry / "partial").write_text("x")
            raise RuntimeError("killed")
    except RuntimeError:
        pass
    assert not store.is_cached("train", "k")
    with store.new_entry("train", "k") as (entry, meta):
        meta["accuracy"] = 0.5
    assert store.is_cached("train", "k")
    assert store.cached_meta("train", "k") == {"accuracy": 0.5}
    assert not (store.cache_entry("train", "k") / "partial").exists()


def test_a_cache_entry_is_trusted_only_with_its_checksum(tmp_path):
    store = Store(tmp_path)
    with store.new_entry("verify", "k") as (_entry, meta):
        meta["max_abs_err"] = 0.25
    done = store.cache_entry("verify", "k") / "done.json"
    data = json.loads(done.read_text())
    done.write_text(json.dumps({**data, "max_abs_err": 0.0}))
    with pytest.warns(UserWarning, match=f"{done}.*checksum"):
        assert not store.is_cached("verify", "k")
    # an entry written before done.json had a checksum: rebuilt, never trusted
    done.write_text(json.dumps({k: v for k, v in data.items() if k != "_sha256"}))
    with pytest.warns(UserWarning, match=f"{done}.*no checksum"):
        assert not store.is_cached("verify", "k")
    done.write_text(json.dumps(data))
    assert store.cached_meta("verify", "k") == {"max_abs_err": 0.25}


IDENTITY = {"model": "tfc", "dataset": "digits", "weight_bits": 2, "act_bits": 2,
            "weight_quant": "int", "seed": 0, "epochs": 1}
OK_FIELDS = {"accuracy": 0.9, "folding": [], "folding_strategy": "uniform", "est_fps": 1e5,
             "est_max_cycles": 1000, "lut": 100.0, "bram18": 1.0, "dsp": 0.0,
             "device": "Pynq-Z1", "clk_ns": 10.0, "verify_ok": True, "verify_samples": 64}


def test_records_and_csv(tmp_path):
    store = Store(tmp_path)
    store.write_record(Record(run_id="b", status="ok", **IDENTITY, **OK_FIELDS))
    store.write_record(Record(run_id="a", status="failed", error="boom", failed_stage="train",
                              **IDENTITY))
    (store.runs_dir / "junk.json").write_text("{not json")
    with pytest.warns(UserWarning, match="junk.json"):
        assert [r.run_id for r in store.iter_records()] == ["a", "b"]
    rows = list(csv.DictReader(store.write_results_csv().open()))
    assert [(r["run_id"], r["status"], r["lut"]) for r in rows] == [
        ("a", "failed", ""), ("b", "ok", "100.0")
    ]
