import csv
import json

from bench.store import Store, write_json_atomic


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


def test_records_and_csv(tmp_path):
    store = Store(tmp_path)
    store.write_record({"run_id": "b", "status": "ok", "accuracy": 0.9, "lut": 100.0})
    store.write_record({"run_id": "a", "status": "failed", "error": "boom"})
    (store.runs_dir / "junk.json").write_text("{not json")
    assert [r["run_id"] for r in store.iter_records()] == ["a", "b"]
    rows = list(csv.DictReader(store.write_results_csv().open()))
    assert [(r["run_id"], r["status"], r["lut"]) for r in rows] == [
        ("a", "failed", ""), ("b", "ok", "100.0")
    ]
