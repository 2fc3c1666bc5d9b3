"""Power-of-two weights (n-BQ-NN): the level set, the training blend, the QONNX export and
the integers FINN makes of them."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch
from brevitas.nn import QuantConv2d, QuantLinear
from brevitas.quant import SignedBinaryWeightPerTensorConst
from torch import nn

from models import build_model
from models.blocks import ScaleInput
from models.quantizers import (
    POT_MAX_BITS,
    PotProjection,
    pot_blend_alpha,
    pot_exponents,
    pot_quantize,
    set_pot_blend,
    weight_quant_kwargs,
)


def pot_set(bits: int) -> set[float]:
    """{0} ∪ {±2^-i : i = 0..r-1}, relative to the channel scale."""
    r = 2 ** (bits - 1) - 1
    return {0.0} | {sign * 2.0**-i for i in range(r) for sign in (1.0, -1.0)}


def relative_levels(w: np.ndarray) -> set[float]:
    """Every weight divided by its output channel's largest magnitude."""
    flat = w.reshape(w.shape[0], -1)
    top = np.abs(flat).max(axis=1, keepdims=True)
    return set(np.unique(flat / np.where(top > 0, top, 1.0)).tolist())


def small_pot_net(bits: int) -> nn.Sequential:
    q = weight_quant_kwargs("pot", bits)
    return nn.Sequential(
        ScaleInput(),
        QuantConv2d(1, 6, 3, padding=1, bias=False, **q), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Flatten(),
        QuantLinear(6 * 8 * 8, 12, bias=False, **q), nn.ReLU(),
        QuantLinear(12, 10, bias=False, **q),
    )


# -- the quantizer itself -----------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 3, 4, 5])
def test_pot_quantize_gives_exactly_the_pot_set(bits):
    torch.manual_seed(bits)
    w = torch.randn(16, 300) * torch.rand(16, 1)
    q = pot_quantize(w, bits).numpy()
    levels = relative_levels(q)
    assert levels <= pot_set(bits)
    assert pot_exponents(bits) == 2 ** (bits - 1) - 1
    # With 300 Gaussian weights per channel every level of the small sets is used.
    if bits <= 3:
        assert levels == pot_set(bits)
    # The channel scale is the channel's largest magnitude, kept exactly.
    np.testing.assert_array_equal(np.abs(q).max(axis=1), w.abs().amax(dim=1).numpy())


def test_pot_levels_are_the_nearest_ones():
    # 3 bits: levels 1, 1/2, 1/4 and 0 (zero below 1/8); midpoints on the linear scale.
    w = torch.tensor([[1.0, 0.76, 0.74, 0.5, 0.376, 0.374, 0.25, 0.13, 0.12, 0.0, -0.6, -0.2]])
    expected = [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.0, 0.0, -0.5, -0.25]
    assert pot_quantize(w, 3).tolist() == [expected]
    # 2 bits is ternary {0, ±s} with the threshold at s/2.
    assert pot_quantize(w, 2).tolist() == [[1.0, 1, 1, 1, 0, 0, 0, 0, 0, 0, -1, 0]]


def test_pot_quantizer_arguments():
    assert weight_quant_kwargs("pot", 1) == {"weight_quant": SignedBinaryWeightPerTensorConst}
    assert weight_quant_kwargs("pot", 3)["weight_pot_bits"] == 3
    with pytest.raises(ValueError, match=rf"pot weights need 1\.\.{POT_MAX_BITS} bits"):
        weight_quant_kwargs("pot", POT_MAX_BITS + 1)
    with pytest.raises(ValueError, match=r"unknown weight quantizer 'log'; allowed: .*pot"):
        weight_quant_kwargs("log", 3)


# -- training blend ------------------------------------------------------------------------


def test_blend_forward_and_straight_through_gradient():
    torch.manual_seed(0)
    layer = QuantLinear(20, 5, bias=False, **weight_quant_kwargs("pot", 3))
    latent = layer.parametrizations.weight.original
    q = pot_quantize(latent, 3)
    assert set_pot_blend(layer, 0.25) == 1
    layer.train()
    torch.testing.assert_close(layer.weight, 0.75 * q + 0.25 * latent.detach())
    x = torch.randn(4, 20)
    layer(x).sum().backward()
    # dW̃/dW = 1: the latent weight receives exactly the gradient of the blended weight.
    torch.testing.assert_close(latent.grad, x.sum(0).expand(5, 20))
    set_pot_blend(layer, 0.0)
    torch.testing.assert_close(layer.weight.detach(), q, rtol=0, atol=1e-6)
    # Evaluation ignores the blend: exact PoT weights.
    set_pot_blend(layer, 1.0)
    layer.eval()
    assert torch.equal(layer.weight, q)
    assert torch.equal(layer.quant_weight().value, q)


def test_set_pot_blend_checks_and_ignores_other_models():
    tfc = build_model("tfc", (1, 8, 8), 10, 3, 3, "int")
    assert set_pot_blend(tfc, 0.5) == 0
    pot = build_model("tfc", (1, 8, 8), 10, 3, 3, "pot")
    assert set_pot_blend(pot, 0.5) == 4
    assert {m.alpha for m in pot.modules() if isinstance(m, PotProjection)} == {0.5}
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        set_pot_blend(pot, 1.5)


def test_blend_schedule():
    alphas = [pot_blend_alpha(e, 40) for e in range(40)]
    assert alphas[0] == pytest.approx(1 - 1 / 30)
    assert all(a >= b for a, b in itertools.pairwise(alphas))
    assert alphas[28] > 0 and alphas[29:] == [0.0] * 11  # the last quarter is exact
    assert pot_blend_alpha(0, 1) == 0.0  # a one-epoch run trains the exact network
    assert [pot_blend_alpha(e, 4) for e in range(4)] == pytest.approx([2 / 3, 1 / 3, 0, 0])


def test_state_dict_and_copy_keep_the_pot_layers():
    torch.manual_seed(1)
    a = build_model("lenet5", (1, 28, 28), 10, 3, 2, "pot")
    b = build_model("lenet5", (1, 28, 28), 10, 3, 2, "pot")
    keys = [k for k in a.state_dict() if k.endswith("weight.original")]
    assert len(keys) == 5  # the latent weights of 2 convs and 3 linear layers
    # Activation scales only exist once Brevitas has collected statistics in training.
    result = b.load_state_dict(a.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert all("act_quant" in k for k in result.missing_keys)
    c = copy.deepcopy(a)
    for model in (a, b, c):
        model.eval()
    layers = [[m for m in model.modules() if isinstance(m, PotProjection)] for model in (a, b, c)]
    assert len(layers[0]) == 5
    for model in (b, c):
        for ours, theirs in zip(
            [m for m in a.modules() if hasattr(m, "quant_weight")],
            [m for m in model.modules() if hasattr(m, "quant_weight")],
            strict=True,
        ):
            assert torch.equal(ours.quant_weight().value, theirs.quant_weight().value)


# -- QONNX export -------------------------------------------------------------------------


def weight_quant_outputs(path) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(initializer, Quant node output as QONNX computes it, bit width) per weight Quant."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    model = ModelWrapper(str(path))
    found = []
    for node in model.graph.node:
        if node.op_type != "Quant":
            continue
        weight = model.get_initializer(node.input[0])
        if weight is None:
            continue  # an activation quantizer
        context = {name: model.get_initializer(name) for name in node.input}
        getCustomOp(node).execute_node(context, model.graph)
        found.append((weight, context[node.output[0]], int(model.get_initializer(node.input[3]))))
    return found


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_exported_qonnx_weights_are_pot(bits, tmp_path):
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    torch.manual_seed(bits)
    model = small_pot_net(bits)
    # A few training steps half-way through the blend, then evaluation mode.
    set_pot_blend(model, 0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    x = torch.rand(32, 1, 8, 8) * 255
    for _ in range(3):
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()
    model.eval()
    path = tmp_path / "pot.onnx"
    export_qonnx(model, x[:1], export_path=str(path), dynamo=False)

    weights = weight_quant_outputs(path)
    assert len(weights) == 3
    r = pot_exponents(bits)
    for initializer, dequantized, bit_width in weights:
        np.testing.assert_array_equal(dequantized, initializer)  # the Quant node is lossless
        assert relative_levels(dequantized) <= pot_set(bits)
        assert len(relative_levels(dequantized)) > 1
        assert bit_width == r + 1
    # And the exported graph computes what PyTorch computes.
    wrapped = cleanup_model(ModelWrapper(str(path)))
    iname, oname = wrapped.graph.input[0].name, wrapped.graph.output[0].name
    got = np.concatenate([execute_onnx(wrapped, {iname: x[i : i + 1].numpy()})[oname]
                          for i in range(4)])
    with torch.no_grad():
        expected = model(x[:4]).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_export_ignores_the_training_blend(tmp_path):
    from brevitas.export import export_qonnx

    torch.manual_seed(3)
    model = small_pot_net(3)
    set_pot_blend(model, 0.9)
    model.train()
    path = tmp_path / "train_mode.onnx"
    export_qonnx(model, torch.rand(1, 1, 8, 8) * 255, export_path=str(path), dynamo=False)
    outputs = list(weight_quant_outputs(path))
    assert outputs, "the export has no weight Quant nodes to check"
    for _, dequantized, _ in outputs:
        assert relative_levels(dequantized) <= pot_set(3)


# -- FINN ------------------------------------------------------------------------------------


def test_pot_tfc_through_finn_is_bit_exact_with_int_r_plus_1_weights(tmp_path):
    from bench.core.spec import make_spec
    from bench.engine.store import Store
    from bench.run.point import run_point

    spec = make_spec(model="tfc", weight_quant="pot", weight_bits=3, act_bits=3, epochs=1, pe=2)
    record = run_point(spec, Store(tmp_path / "results"), show_progress=False).record.model_dump()
    assert record["status"] == "ok", record.get("error")
    assert record["verify_ok"] is True
    # 3-bit PoT: integers {0, ±1, ±2, ±4} in every layer, which FINN stores as INT4.
    assert set(record["weight_distinct_values"].values()) <= {5, 6, 7}
    assert max(record["weight_distinct_values"].values()) == 7
    weights = {t["weight"] for t in record["layer_datatypes"].values() if "weight" in t}
    assert weights == {"INT4"}
