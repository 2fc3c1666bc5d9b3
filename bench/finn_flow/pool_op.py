"""Our max pooling unit (`bench/rtl/hdl/qnnbench_maxpool.sv`) as a FINN layer.

FINN builds every max pool as a depthwise sliding-window generator followed by a `Pool`
node, and has no RTL variant of `Pool`: without one, a convolutional network keeps an HLS
layer, which cannot be synthesized or simulated here, and so cannot be stitched. The unit
computes what that node computes on the stream it receives, so it takes the node's place
unchanged: same attributes, shapes, stream widths and cycles (FINN's `Pool`, from which
both classes inherit, including FINN's Python execution as the bit-exact reference).

* `QnnbenchPool` in `finn.custom_op.fpgadataflow`: the abstract layer, a `Pool` whose
  resource estimate is stated from the unit's Yosys measurements (`unit_estimate`).
  FINN's `despecialize_model` maps the RTL node back to it.
* `QnnbenchPool_rtl` in `finn.custom_op.fpgadataflow.rtl`: the same with `generate_hdl`,
  which writes the unit's source and a top with FINN's stream names.

Only `Function = "MaxPool"` is the unit's; `bench.finn_flow.pool_transform` converts
nothing else. Registration happens when this module is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.finn_flow.env import prepare_finn
from bench.finn_flow.unit_op import EstimatesFromUnit, rtl_file_list, write_unit_hdl
from bench.rtl import pool_unit

OP_TYPE = "QnnbenchPool"
RTL_OP_TYPE = OP_TYPE + "_rtl"
HW_DOMAIN = "finn.custom_op.fpgadataflow"
RTL_DOMAIN = HW_DOMAIN + ".rtl"
ESTIMATE_MODEL = "stated from Yosys synth_xilinx measurements of qnnbench_maxpool " \
    "(bench/rtl/hdl/README.md): LUT = PE * (1 if BITS <= 2 else BITS) + 6, " \
    "FF = PE * BITS + 3"

prepare_finn()

from finn.custom_op.fpgadataflow import custom_op as _hw_ops  # noqa: E402
from finn.custom_op.fpgadataflow.pool import Pool  # noqa: E402
from finn.custom_op.fpgadataflow.rtl import custom_op as _rtl_ops  # noqa: E402
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend  # noqa: E402

# LUTs of the unit's stream control (window counter, valid flag), beside its lanes.
CONTROL_LUTS = 6


def estimate(pe: int, bits: int) -> dict[str, float]:
    """The unit's resources for PE lanes of BITS-bit elements.

    Stated from six measured units (README, "qnnbench_maxpool", within 12 %): a lane's
    compare and select of 1- or 2-bit elements fits one LUT6, wider elements take about
    one LUT per bit (no carry chains: the comparisons are narrow); the flip-flops are the
    lane registers, the window counter and the valid flag. No memories, no DSPs.
    """
    lanes = pe * (1 if bits <= 2 else bits)
    return {"lut": float(lanes + CONTROL_LUTS), "ff": float(pe * bits + 3),
            "bram18": 0.0, "dsp": 0.0}


class QnnbenchPool(EstimatesFromUnit, Pool):
    """FINN's Pool computed by our unit: FINN's shapes, cycles and execution, our estimate."""

    def unit_config(self) -> pool_unit.PoolConfig:
        """The HDL parameters of the unit for the node's current folding and type.

        The unit pools square windows only, as FINN builds them for every network here;
        a non-square kernel is refused rather than pooled wrongly."""
        kh, kw = self.get_nodeattr("KernelSize")
        oh, ow = self.get_nodeattr("OutImgDims")
        if kh != kw or oh != ow:
            raise ValueError(f"{self.onnx_node.name}: the unit takes square kernels and "
                             f"images, got {kh}x{kw} over {oh}x{ow}")
        idt = self.get_input_datatype()
        return pool_unit.PoolConfig(
            channels=self.get_nodeattr("Channels"), pe=self.get_nodeattr("PE"), kernel=kh,
            out_dim=oh, bits=idt.bitwidth(),
            signed=idt.signed() and idt.name != "BIPOLAR")

    # -- estimates (stated from the unit's measurements) --------------------------------

    def unit_estimate(self) -> dict[str, float]:
        return estimate(self.get_nodeattr("PE"), self.get_input_datatype().bitwidth())


class QnnbenchPool_rtl(QnnbenchPool, RTLBackend):
    """The unit's HDL for one node: its source and a top with FINN's streams."""

    def get_nodeattr_types(self) -> dict[str, Any]:
        attrs = QnnbenchPool.get_nodeattr_types(self)
        attrs.update(RTLBackend.get_nodeattr_types(self))
        return attrs

    def generate_hdl(self, model: Any, fpgapart: str, clk: float) -> None:
        cfg = self.unit_config()
        widths = self.get_instream_width_padded(0), self.get_outstream_width_padded(0)
        top = write_unit_hdl(Path(self.get_nodeattr("code_gen_dir_ipgen")),
                             pool_unit.sources(), "qnnbench_maxpool_top", cfg.params(),
                             lambda name: wrapper(name, cfg, *widths))
        self.set_nodeattr("gen_top_module", top)

    def get_rtl_file_list(self, abspath: bool = False) -> list[Any]:
        return rtl_file_list(self, pool_unit.SOURCES, abspath)

    def code_generation_ipi(self) -> list[str]:
        raise NotImplementedError(f"{RTL_OP_TYPE} has no Vivado IP integration; it is "
                                  "measured with Yosys and Verilator")


def wrapper(top: str, cfg: pool_unit.PoolConfig, in_width: int, out_width: int) -> str:
    """A top module with FINN's stream names (in0_V/out0_V, byte-padded) around the unit,
    so that the measuring tools and the stitcher treat it like any FINN RTL layer."""
    params = ", ".join(f".{k}({v})" for k, v in cfg.params().items())
    return f"""// {top}: qnnbench_maxpool with FINN's stream names (bench.finn_flow.pool_op)
module {top} (
  input ap_clk,
  input ap_rst_n,
  input [{in_width - 1}:0] in0_V_TDATA,
  input in0_V_TVALID,
  output in0_V_TREADY,
  output [{out_width - 1}:0] out0_V_TDATA,
  output out0_V_TVALID,
  input out0_V_TREADY
);
  wire [{cfg.width - 1}:0] out;
  assign out0_V_TDATA = {out_width}'(out);
  {pool_unit.TOP} #({params}) unit (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_tdata(in0_V_TDATA[{cfg.width - 1}:0]), .s_axis_tvalid(in0_V_TVALID),
    .s_axis_tready(in0_V_TREADY),
    .m_axis_tdata(out), .m_axis_tvalid(out0_V_TVALID), .m_axis_tready(out0_V_TREADY)
  );
endmodule
"""


def register() -> None:
    """Put both classes into the dicts FINN's registry consults (idempotent)."""
    _hw_ops[OP_TYPE] = QnnbenchPool
    _rtl_ops[RTL_OP_TYPE] = QnnbenchPool_rtl


register()
