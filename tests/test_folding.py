import pytest

from bench.core.folding import Layer, largest_divisor_at_most, to_finn_config, uniform_folding

TFC_LAYERS = [
    Layer("MVAU_hls_0", "MVAU_hls", pe_dim=64, simd_dim=784),
    Layer("MVAU_hls_1", "MVAU_hls", pe_dim=64, simd_dim=64),
    Layer("MVAU_rtl_0", "MVAU_rtl", pe_dim=10, simd_dim=64),
]


@pytest.mark.parametrize(
    ("n", "limit", "expected"),
    [(64, 8, 8), (10, 8, 5), (10, 4, 2), (784, 64, 56), (7, 3, 1), (10, 100, 10), (12, 0, 1)],
)
def test_largest_divisor_at_most(n, limit, expected):
    assert largest_divisor_at_most(n, limit) == expected


def test_uniform_folding_clamps_and_keeps_request():
    folding = uniform_folding(TFC_LAYERS, pe=8, simd=8)
    by_node = {f.node: f for f in folding}
    assert (by_node["MVAU_hls_0"].pe, by_node["MVAU_hls_0"].simd) == (8, 8)
    assert (by_node["MVAU_rtl_0"].pe, by_node["MVAU_rtl_0"].simd) == (5, 8)
    assert by_node["MVAU_rtl_0"].requested_pe == 8
    assert by_node["MVAU_rtl_0"].clamped and not by_node["MVAU_hls_1"].clamped
    for f, layer in zip(folding, TFC_LAYERS, strict=True):
        assert layer.pe_dim % f.pe == 0 and layer.simd_dim % f.simd == 0


def test_uniform_folding_layer_without_simd():
    folding = uniform_folding([Layer("Thresholding_rtl_0", "Thresholding_rtl", 64, None)], 4, 4)
    assert folding[0].simd is None and folding[0].pe == 4
    assert to_finn_config(folding) == {"Thresholding_rtl_0": {"PE": 4}}


def test_uniform_folding_rejects_non_positive():
    with pytest.raises(ValueError, match="positive"):
        uniform_folding(TFC_LAYERS, pe=0, simd=1)


def test_finn_config_format():
    config = to_finn_config(uniform_folding(TFC_LAYERS, pe=2, simd=16))
    assert config["MVAU_hls_0"] == {"PE": 2, "SIMD": 16}
    assert config["MVAU_rtl_0"] == {"PE": 2, "SIMD": 16}


def test_a_folding_file_carries_each_mvus_pe_to_its_standalone_thresholds():
    from bench.core.folding import layers_folding

    layers = [Layer("MVAU_rtl_0", "MVAU_rtl", 64, 64), Layer("Thresholding_rtl_0",
              "Thresholding_rtl", 64, None), Layer("MVAU_rtl_1", "MVAU_rtl", 10, 64)]
    # written for FINN's default graph: thresholds fused, only the MVAUs named
    folding = layers_folding(layers, {"MVAU_hls_0": {"PE": 16, "SIMD": 8},
                                      "MVAU_hls_1": {"PE": 5, "SIMD": 4}})
    assert [(f.pe, f.simd) for f in folding] == [(16, 8), (16, None), (5, 4)]
    # a file that names the thresholds layer decides for itself
    named = layers_folding(layers, {"MVAU_rtl_0": {"PE": 16, "SIMD": 8},
                                    "Thresholding_rtl_0": {"PE": 4}})
    assert named[1].pe == 4
