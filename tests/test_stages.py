"""Each stage on the real libraries with a small TFC (W2A2, digits, 3 epochs)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from bench import finn_flow
from bench.core.folding import to_finn_config, uniform_folding
from bench.learn.train import evaluate, train
from bench.learn.verify import compare


def test_training_is_deterministic(small_spec, digits, trained):
    again = train(small_spec, digits, show_progress=False)
    for (name, a), b in zip(trained.model.state_dict().items(),
                            again.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert again.accuracy == trained.accuracy


def test_training_learns(trained, digits):
    # 10 classes: chance is 0.1; three epochs at W2A2 already get far past it.
    assert evaluate(trained.model, digits) > 0.5


def test_export_marks_uint8_input_and_matches_pytorch(exported, trained, digits):
    from qonnx.core.modelwrapper import ModelWrapper

    from bench.learn.export import run_qonnx

    model = ModelWrapper(str(exported))
    assert model.get_tensor_datatype(model.graph.input[0].name).name == "UINT8"
    assert any(n.op_type == "Quant" for n in model.graph.node)
    got = run_qonnx(exported, digits.x_test[:4])
    with torch.no_grad():
        expected = trained.model(torch.from_numpy(digits.x_test[:4]).float()).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_hw_graph_has_only_hw_layers(hw_graph):
    graph = hw_graph.model()
    ops = [n.op_type for n in graph.graph.node]
    assert ops and all(op.endswith(("_hls", "_rtl")) for op in ops), ops
    layers = finn_flow.foldable_layers(graph)
    assert [(la.pe_dim, la.simd_dim) for la in layers] == [(64, 64), (64, 64), (64, 64), (10, 64)]
    types = finn_flow.layer_datatypes(graph)
    assert types["MVAU_hls_0"]["input"] == "UINT8"
    assert all(t["weight"] == "INT2" for t in types.values())


def test_incremental_estimate_equals_full_finn_build(hw_graph, exported, tmp_path):
    """The in-process estimate must give FINN's own numbers for the same folding."""
    from bench.finn_flow.calibrated import finn_only

    graph = hw_graph.model()
    folding = to_finn_config(uniform_folding(finn_flow.foldable_layers(graph), 8, 4))
    fast = finn_flow.estimate(graph, folding, "xc7z020clg400-1", 10.0)
    reports = finn_flow.run_estimate_build(exported, tmp_path, "xc7z020clg400-1", 10.0, folding)
    full = finn_flow.estimate_from_reports(
        reports["estimate_layer_cycles"], reports["estimate_layer_resources"],
        reports["estimate_network_performance"], 10.0,
    )
    assert finn_only(fast) == full
    assert fast.fps == pytest.approx(reports["estimate_network_performance"][
        "estimated_throughput_fps"])
    # 64x64 at PE 8, SIMD 4 -> 128 cycles; the first layer (64 inputs too) also 128.
    assert fast.max_cycles == 128


def test_more_parallelism_is_faster_and_bigger(hw_graph):
    graph = hw_graph.model()
    layers = finn_flow.foldable_layers(graph)
    slow = finn_flow.estimate(graph, to_finn_config(uniform_folding(layers, 1, 1)),
                              "xc7z020clg400-1", 10.0)
    fast = finn_flow.estimate(graph, to_finn_config(uniform_folding(layers, 8, 8)),
                              "xc7z020clg400-1", 10.0)
    assert slow.max_cycles == 64 * 64 and fast.max_cycles == 64
    assert fast.fps == pytest.approx(64 * slow.fps)
    assert fast.totals["lut"] > slow.totals["lut"]


def test_hw_graph_reproduces_brevitas(hw_graph, trained, digits, tmp_path):
    from bench.learn.train import predict

    inputs = digits.x_test[:16]
    got = hw_graph.execute(inputs, tmp_path)
    result = compare(got, predict(trained.model, inputs))
    assert result.ok and result.argmax_agreement == 1.0
    assert result.max_abs_err < 1e-4


def test_fast_execution_equals_finn_reference_and_falls_back(hw_graph, digits, tmp_path,
                                                             monkeypatch):
    """The whole-test-set path (one flattened graph, set up once) gives FINN's outputs;
    a runner that disagreed on the self-check samples would not be used."""
    from bench.finn_flow import execute

    inputs = digits.x_test[:24]
    reference = hw_graph.execute(inputs, tmp_path)
    assert np.array_equal(hw_graph.execute_many(inputs, tmp_path / "fast"), reference)

    real_run = execute.GraphRunner.run
    monkeypatch.setattr(execute.GraphRunner, "run", lambda self, x: real_run(self, x) + 1)
    assert np.array_equal(hw_graph.execute_many(inputs, tmp_path / "slow"), reference)


def test_large_executions_stay_in_process_unless_allowed(hw_graph, digits, tmp_path,
                                                        monkeypatch):
    """Worker processes re-run the caller's main script: only a guarded caller (the
    command line) may have them, and only when the samples left would take long."""
    import concurrent.futures

    from bench.finn_flow import execute

    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    inputs = np.concatenate([digits.x_test] * 2)[: execute.PARALLEL_FROM + 10]
    serial = hw_graph.execute_many(inputs, tmp_path)
    assert serial.shape[0] == len(inputs)
    execute.allow_worker_processes()
    try:
        # allowed, but this small graph's samples take milliseconds: not worth a process
        assert np.array_equal(hw_graph.execute_many(inputs, tmp_path), serial)
        monkeypatch.setattr(execute, "POOL_PAYS_FROM_S", 0.0)
        with pytest.raises(AssertionError, match="process pool"):
            hw_graph.execute_many(inputs, tmp_path)
    finally:
        execute.allow_worker_processes(False)


@pytest.mark.slow  # starts worker processes (each imports FINN)
def test_worker_processes_give_the_same_outputs(hw_graph, digits, tmp_path, monkeypatch):
    from bench.finn_flow import execute

    inputs = np.concatenate([digits.x_test] * 2)[: execute.PARALLEL_FROM + 10]
    serial = hw_graph.execute_many(inputs, tmp_path)
    monkeypatch.setattr(execute, "POOL_PAYS_FROM_S", 0.0)
    execute.allow_worker_processes()
    try:
        assert np.array_equal(hw_graph.execute_many(inputs, tmp_path), serial)
    finally:
        execute.allow_worker_processes(False)


def test_verification_catches_a_wrong_graph(hw_graph, trained, digits, tmp_path):
    """Perturb one integer weight of the HW graph: verification must fail."""
    from bench.learn.train import predict

    graph = hw_graph.model()
    node = graph.graph.node[-1]
    w = graph.get_initializer(node.input[1]).copy()
    w[0, :] = -w[0, :]
    graph.set_initializer(node.input[1], w)
    broken = finn_flow.HwGraph(tmp_path / "broken")
    broken.directory.mkdir()
    graph.save(str(broken.graph_path))
    shutil.copy(hw_graph.parent_path, broken.parent_path)
    inputs = digits.x_test[:16]
    result = compare(broken.execute(inputs, tmp_path),
                     predict(trained.model, inputs))
    assert not result.ok


def test_finn_failure_names_the_step(tmp_path, digits):
    """An unquantized float layer cannot be mapped to hardware: FINN fails, we say where."""
    from brevitas.nn import QuantLinear
    from torch import nn

    from bench.learn.export import export_qonnx
    from models.blocks import ScaleInput
    from models.quantizers import weight_quant_kwargs

    model = nn.Sequential(
        ScaleInput(), nn.Flatten(),
        QuantLinear(64, 16, bias=False, **weight_quant_kwargs("int", 4)), nn.ReLU(),
        nn.Linear(16, 16), nn.ReLU(),
        QuantLinear(16, 10, bias=False, **weight_quant_kwargs("int", 4)),
    ).eval()
    path = export_qonnx(model, digits.x_test[:1], tmp_path / "float.onnx")
    with pytest.raises(finn_flow.FinnStepError) as exc:
        finn_flow.build_hw_graph(path, tmp_path / "hw", "xc7z020clg400-1", 10.0)
    assert exc.value.step.startswith("step_")
    assert "step_" in str(exc.value)
