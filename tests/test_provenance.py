"""Cache keys hash the code stages declare as their sources, found from dotted names."""

from __future__ import annotations

import sys

import pytest

from bench.engine.provenance import source_files, sources_hash
from bench.stages import plan


def _all_stages():
    seen = {}
    for stage in [*plan.PREPARE, *plan.PER_POINT, *plan.PER_FOLDING, *plan.UNTRAINED_HW]:
        seen[stage.name] = stage
    return list(seen.values())


@pytest.mark.parametrize("stage", _all_stages(), ids=lambda s: s.name)
def test_every_declared_source_names_files(stage):
    for name in stage.sources:
        assert source_files(name), f"{stage.name}: {name} names no files"


def test_the_measured_stages_hash_our_hdl_and_fitted_model():
    from bench.stages.rtl_measure import RTL_MEASURE

    names = {p.name for n in RTL_MEASURE.sources for p in source_files(n)}
    assert {"qnnbench_mvu.sv", "mvu_fit.json", "rtl_layers.py", "measure.py"} <= names


def test_training_hashes_every_model_definition():
    from bench.stages.model import TRAIN

    names = {p.name for n in TRAIN.sources for p in source_files(n)}
    assert {"mlp.py", "cnv.py", "quantizers.py", "train.py"} <= names


def test_editing_a_source_file_changes_the_hash(tmp_path, monkeypatch):
    package = tmp_path / "probe_pkg"
    (package / "hdl").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "hdl" / "unit.sv").write_text("module unit; endmodule\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = sources_hash(("probe_pkg",))
    (package / "hdl" / "unit.sv").write_text("module unit(input a); endmodule\n")
    sources_hash.cache_clear()
    assert sources_hash(("probe_pkg",)) != before
    sys.modules.pop("probe_pkg", None)


def test_a_misspelled_source_is_an_error_not_an_empty_hash():
    with pytest.raises(ModuleNotFoundError):
        source_files("bench.no_such_module")
