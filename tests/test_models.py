"""The model zoo: registry, architectures, input adapters, errors, and each model through
FINN (estimates and bit-exact verification) with each kind of weight quantizer."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn

import models
from bench.core import spec as bench_spec
from models import MODELS, WEIGHT_QUANTIZERS, build_model
from models.cnv import cnv

SHAPES = [(3, 32, 32), (1, 28, 28), (1, 8, 8)]


def test_registry_matches_the_harness():
    assert tuple(MODELS) == bench_spec.MODEL_NAMES
    assert tuple(WEIGHT_QUANTIZERS) == bench_spec.WEIGHT_QUANTS


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_shapes(name, shape):
    width = 0.25 if name in ("cnv", "lfc") else 1.0
    model = build_model(name, shape, 7, 2, 2, "int", width=width)
    model.eval()
    out = model(torch.randint(0, 256, (3, *shape)).float())
    assert out.shape == (3, 7)
    assert isinstance(model[0], models.blocks.ScaleInput)


def trace_shapes(model: nn.Module, shape) -> list[tuple[str, tuple[int, ...]]]:
    """(layer kind, output shape without batch) of every conv / linear / pool layer."""
    seen = []
    kinds = {QuantConv2d: "conv", QuantLinear: "fc", nn.MaxPool2d: "pool"}
    hooks = [
        m.register_forward_hook(
            lambda mod, _, out, kind=kind: seen.append((kind, tuple(out.shape[1:])))
        )
        for m in model.modules()
        for cls, kind in kinds.items()
        if isinstance(m, cls)
    ]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    return seen


def test_cnv_is_the_published_architecture():
    model = build_model("cnv", (3, 32, 32), 10, 2, 2)
    assert trace_shapes(model, (3, 32, 32)) == [
        ("conv", (64, 30, 30)), ("conv", (64, 28, 28)), ("pool", (64, 14, 14)),
        ("conv", (128, 12, 12)), ("conv", (128, 10, 10)), ("pool", (128, 5, 5)),
        ("conv", (256, 3, 3)), ("conv", (256, 1, 1)),
        ("fc", (512,)), ("fc", (512,)), ("fc", (10,)),
    ]
    convs = [m for m in model.modules() if isinstance(m, QuantConv2d)]
    assert all(c.kernel_size == (3, 3) and c.padding == (0, 0) and c.bias is None for c in convs)
    # Conv -> BN -> activation everywhere, as in Brevitas' bnn_pynq CNV.
    kinds = [type(m).__name__ for m in model]
    assert kinds[1:4] == ["QuantConv2d", "BatchNorm2d", "QuantIdentity"]


def test_lenet5_is_the_classic_architecture():
    model = build_model("lenet5", (1, 28, 28), 10, 2, 2)
    assert trace_shapes(model, (1, 28, 28)) == [
        ("conv", (6, 28, 28)), ("pool", (6, 14, 14)), ("conv", (16, 10, 10)),
        ("pool", (16, 5, 5)), ("fc", (120,)), ("fc", (84,)), ("fc", (10,)),
    ]


@pytest.mark.parametrize("name", ["cnv", "lenet5"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8)])
def test_input_adapter_is_zero_padding_to_32x32(name, shape):
    """The small-image model equals the 32x32 model on the zero-padded integer image."""
    torch.manual_seed(0)
    small = build_model(name, shape, 10, 3, 3, "pot", width=0.25)
    full = build_model(name, (1, 32, 32), 10, 3, 3, "pot", width=0.25)
    full.load_state_dict(small.state_dict(), strict=False)
    first = next(m for m in small.modules() if isinstance(m, QuantConv2d))
    assert first.padding == ((32 - shape[1]) // 2,) * 2
    small.eval()
    full.eval()
    x = torch.randint(0, 256, (4, *shape)).float()
    margin = (32 - shape[1]) // 2
    padded = F.pad(x, (margin,) * 4)
    assert torch.equal(small(x), full(padded))


@pytest.mark.parametrize("name", ["cnv", "lenet5"])
@pytest.mark.parametrize("shape", [(1, 33, 32), (3, 64, 64), (1, 27, 28), (28, 28), (1, 0, 8)])
def test_bad_input_shapes_are_refused_clearly(name, shape):
    with pytest.raises(ValueError, match=rf"^{name}.*(32x32|positive integers)"):
        build_model(name, shape, 10, 2, 2)


def test_other_errors():
    with pytest.raises(ValueError, match="unknown model 'vgg'; allowed: tfc, sfc, lfc, cnv"):
        build_model("vgg", (1, 8, 8), 10, 2, 2)
    with pytest.raises(ValueError, match="unknown weight quantizer 'fp8'"):
        build_model("lenet5", (1, 8, 8), 10, 2, 2, "fp8")
    with pytest.raises(ValueError, match=r"weight bits must be an integer in 1\.\.8"):
        build_model("cnv", (3, 32, 32), 10, 9, 2)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("tfc", (1, 8, 8), 0, 2, 2)
    with pytest.raises(ValueError, match="width multiplier must be positive"):
        build_model("tfc", (1, 8, 8), 10, 2, 2, width=0)
    with pytest.raises(ValueError, match="pot weights need"):
        build_model("tfc", (1, 8, 8), 10, 8, 2, "pot")


@pytest.mark.parametrize("quant", ["int", "pot", "binary", "ternary"])
def test_every_quantizer_reaches_every_weight_layer(quant):
    torch.manual_seed(0)
    model = build_model("lenet5", (1, 8, 8), 10, 3, 2, quant)
    layers = [m for m in model.modules() if isinstance(m, QuantConv2d | QuantLinear)]
    assert len(layers) == 5
    allowed = {
        "int": set(range(-3, 4)), "pot": {0, 1, -1, 2, -2, 4, -4}, "binary": {-1, 1},
        "ternary": {-1, 0, 1},
    }[quant]
    model.eval()
    for layer in layers:
        ints = set(layer.quant_weight().int().unique().tolist())
        assert ints <= allowed
        if quant != "ternary":  # Brevitas' ternary has a fixed scale: may round all to 0
            assert len(ints) > 1


# -- through FINN --------------------------------------------------------------------------


# Narrow CNV for speed (every layer of the published one, 1/8 of the widths); LeNet-5 and
# TFC are small enough as they are.
TEST_WIDTH = {"cnv": 0.125}


def run_through_finn(name, quant, tmp_path, monkeypatch, bits=2):
    from bench.core.spec import make_spec
    from bench.engine.store import Store
    from bench.run.point import run_point

    if name in TEST_WIDTH:
        monkeypatch.setitem(MODELS, name, functools.partial(MODELS[name], width=TEST_WIDTH[name]))
    spec = make_spec(model=name, weight_quant=quant, weight_bits=bits, act_bits=2, epochs=1,
                     pe=2)
    record = run_point(spec, Store(tmp_path / "results"), show_progress=False).record.model_dump()
    assert record["status"] == "ok", record.get("error")
    assert record["verify_ok"] is True
    assert record["verify_max_abs_err"] < 1e-3
    assert record["est_fps"] > 0 and record["lut"] > 0
    return record


def weight_types(record) -> set[str]:
    return {t["weight"] for t in record["layer_datatypes"].values() if "weight" in t}


def check_w2(record, name):
    # Two-bit int and PoT weights are both {-1, 0, 1}·s: FINN's INT2.
    assert weight_types(record) == {"INT2"}
    assert set(record["weight_distinct_values"].values()) <= {2, 3}
    n_layers = {"tfc": 4, "cnv": 9, "lenet5": 5}[name]
    assert len(record["weight_distinct_values"]) == n_layers
    if name != "tfc":  # the convolutional models pad 8x8 digits to 32x32 in hardware
        assert any(node.startswith("FMPadding") for node in record["layer_datatypes"])


# About 5-15 s each on 2 idle cores (CNV the slowest), so not marked slow.
@pytest.mark.parametrize("quant", ["int", "pot"])
@pytest.mark.parametrize("name", ["tfc", "lenet5", "cnv"])
def test_w2a2_through_finn(name, quant, tmp_path, monkeypatch):
    check_w2(run_through_finn(name, quant, tmp_path, monkeypatch), name)


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["binary", "ternary"])
@pytest.mark.parametrize("name", ["tfc", "lenet5", "cnv"])
def test_binary_and_ternary_through_finn(name, quant, tmp_path, monkeypatch):
    record = run_through_finn(name, quant, tmp_path, monkeypatch)
    # FINN stores ±1 weights as INT2 unless the input is bipolar too (XNOR-popcount).
    assert weight_types(record) == {"INT2"}
    distinct = set(record["weight_distinct_values"].values())
    if quant == "binary":
        assert distinct == {2}
    else:
        assert distinct <= {1, 2, 3}


def test_cnv_default_is_full_width():
    # The test narrowing is opt-in: the registered builder is the published network.
    assert MODELS["cnv"] is cnv
    params = sum(p.numel() for p in build_model("cnv", (3, 32, 32), 10, 2, 2).parameters())
    assert 1_500_000 < params < 1_600_000
