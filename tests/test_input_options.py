"""Input mapping options are refused where they would be silently ignored (a model trained
here) or silently changed (a number float32 does not hold)."""

from __future__ import annotations

import pytest

from bench.core.errors import SpecError
from bench.core.spec import make_spec
from bench.core.sweep_spec import SweepSpec, expand
from tests.byo.cli_check import refused
from tests.byo.qonnx_graphs import quant_graph


def test_input_scale_and_offset_are_refused_for_models_trained_here(tmp_path, capsys):
    err = refused(capsys, "--input-scale", "0.5", "--input-offset", "3", "--results-dir",
                   str(tmp_path / "r"))
    assert "external QONNX models" in err
    with pytest.raises(SpecError, match="external QONNX models"):
        make_spec(model="tests.byo.tiny_models:tiny_mlp", input_offset=1.0)
    assert not (tmp_path / "r" / "runs").exists()


def test_a_sweeps_input_mapping_goes_to_its_external_models_only(tmp_path):
    quant_graph(tmp_path / "ext.onnx")
    points = expand(SweepSpec(models=["tfc", "ext.onnx"], bits=[2], epochs=1,
                              input_scale=0.5), base_dir=tmp_path, label="spec")
    scales = {p.is_external: p.input_scale for p in points}
    assert scales == {True: 0.5, False: None}
    with pytest.raises(SpecError, match="this sweep has none"):
        expand(SweepSpec(models=["tfc"], bits=[2], input_offset=1.0), base_dir=tmp_path,
               label="spec")


@pytest.mark.parametrize(("field", "value"), [
    ("input_scale", 1e-300), ("input_scale", 1e-40), ("input_scale", -1e-320),
    ("input_offset", 1e-300), ("input_offset", 3e-45),
])
def test_input_mapping_numbers_float32_would_change_are_refused(tmp_path, field, value):
    path = quant_graph(tmp_path / "m.onnx")
    with pytest.raises(SpecError, match="float32 holds to within 1e-06 relative"):
        make_spec(qonnx=str(path), **{field: value})


def test_input_mapping_numbers_float32_holds_are_kept_as_given(tmp_path):
    path = str(quant_graph(tmp_path / "m.onnx"))
    spec = make_spec(qonnx=path, input_scale=1 / 255, input_offset=-128.0)
    assert (spec.input_scale, spec.input_offset) == (1 / 255, -128.0)
    assert make_spec(qonnx=path, input_scale=2e-38, input_offset=0.0).input_offset == 0.0
