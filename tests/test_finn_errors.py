"""A FINN build step that fails says what failed: the exception's type, where it was
raised and on which node, in the record and on the console (FINN itself logs only
"FINN INTERNAL COMPILER ERROR:", often with an empty message)."""

from __future__ import annotations

import json
import re

import pytest
from onnx import helper

from bench.cli import EXIT_FAILED, main
from bench.finn_flow.builder import describe_exception
from tests.byo.qonnx_graphs import signed_input_mlp


def test_an_exception_reads_as_its_type_place_node_and_failed_statement():
    def convert(node):
        if node.op_type != "Conv":  # as a bare assert in FINN reads (pytest rewrites ours)
            raise AssertionError

    try:
        convert(helper.make_node("Relu", ["a"], ["b"], name="relu_0"))
    except AssertionError as err:
        text = describe_exception(err)
    assert re.fullmatch(r"AssertionError at \S*test_finn_errors\.py:\d+ in convert on node "
                        r"relu_0 \(Relu\): raise AssertionError", text), text


@pytest.mark.slow
def test_a_failed_finn_step_names_the_exception_and_where_it_was_raised(tmp_path, capsys,
                                                                       monkeypatch):
    # A signed 1-bit activation quantizer with a scale other than 1: FINN's conversion
    # asserts on it. Outside pytest FINN swallows the exception and logs only a headline,
    # so the test runs FINN's builder as the command line does.
    model = signed_input_mlp(tmp_path / "m.onnx", act_signed=1, act_bits=1)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    results = tmp_path / "r"
    code = main(["run", "--qonnx", str(model), "--dataset", "none", "--results-dir",
                 str(results)])
    record = json.loads(next((results / "runs").glob("*.json")).read_text())
    assert code == EXIT_FAILED
    assert record["failed_stage"] == "hw_graph"
    assert record["failed_step"] == "step_qonnx_to_finn"
    error = record["error"]
    assert "AssertionError" in error and "INTERNAL COMPILER ERROR" not in error
    assert re.search(r"finn/\S+\.py:\d+ in \w+", error), error
    # The node FINN was converting, by its name in the graph FINN works on.
    assert re.search(r"on node Quant_\d+ \(Quant\)", error), error
    out = " ".join(capsys.readouterr().out.split())
    assert "AssertionError" in out and re.search(r"\.py:\d+", out)
