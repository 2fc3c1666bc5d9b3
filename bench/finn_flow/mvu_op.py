"""Our matrix-vector-threshold unit (`bench/rtl/hdl/qnnbench_mvu.sv`) as a FINN layer.

Two classes, registered the way FINN registers its own layers, so that FINN's registry
(`qonnx.custom_op.registry.getCustomOp`, which looks classes up by node domain and
op type in each domain module's `custom_op` dict) finds them:

* `QnnbenchMVU` in `finn.custom_op.fpgadataflow`: the abstract layer. It is an MVAU
  (same attributes, shapes, stream widths, folding and cycle model: SF·NF cycles per
  vector) whose Python execution is the unit's numpy reference (`mvu_unit.reference`)
  and whose resource estimate is the model fitted to Yosys (`bench.rtl.mvu_fit`).
  FINN's `despecialize_model` maps the RTL node back to it for the bit-exact reference.
* `QnnbenchMVU_rtl` in `finn.custom_op.fpgadataflow.rtl`: the same with
  `generate_hdl`, which writes the unit's sources, its memory files and a top with
  FINN's stream names into the code-generation directory.

Extra attributes: `datapath` (int | pot), `unitWBits` (the unit's W_BITS: integer
weight bits, or the PoT quantizer's bits n) and `unitAccBits` (see below).

Thresholds, when present (`noActivation` 0), are integers and the output is their
unsigned count (`ActVal` 0): the unit has no output bias, so
`bench.finn_flow.mvu_transform` only converts layers of that kind. The accumulator is
FINN's (minimized for the weights the layer holds, widened to hold every threshold
exactly and, for PoT, every value of W·x - n_c, see `mvu_unit.stored_thresholds`), not
the unit's worst case for any weights: that is what FINN's own layer builds, and PoT's
worst case (shifts up to 2^(r-1)) is far wider. The memory files hold what the unit
compares and starts from (`mvu_unit.write_memories`): PoT thresholds lowered by each
channel's count of negative weights, or, without thresholds, those counts as the
accumulators' start values.

Registration happens when this module is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.finn_flow.env import prepare_finn
from bench.finn_flow.unit_op import EstimatesFromUnit, rtl_file_list, write_unit_hdl
from bench.rtl import mvu_fit, mvu_unit

OP_TYPE = "QnnbenchMVU"
RTL_OP_TYPE = OP_TYPE + "_rtl"
HW_DOMAIN = "finn.custom_op.fpgadataflow"
RTL_DOMAIN = HW_DOMAIN + ".rtl"
ESTIMATE_MODEL = "fitted to Yosys synth_xilinx measurements of qnnbench_mvu " \
    "(bench/rtl/mvu_fit.json)"

prepare_finn()

from finn.custom_op.fpgadataflow import custom_op as _hw_ops  # noqa: E402
from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU  # noqa: E402
from finn.custom_op.fpgadataflow.rtl import custom_op as _rtl_ops  # noqa: E402
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend  # noqa: E402


class QnnbenchMVU(EstimatesFromUnit, MVAU):
    """An MVAU computed by our unit: numpy reference execution, fitted estimates."""

    def get_nodeattr_types(self) -> dict[str, Any]:
        attrs = super().get_nodeattr_types()
        attrs.update({
            "datapath": ("s", True, "int", {"int", "pot"}),
            "unitWBits": ("i", True, 0),
            # accumulator bits with thresholds (FINN's accumulator type, widened to hold
            # every threshold); 0: the unit's default, exact for any weights
            "unitAccBits": ("i", False, 0),
            # 1: synthesis may put products of 9+ bits into DSPs (`--dsp auto`); 0: `off`
            "unitDsp": ("i", False, 1, {0, 1}),
        })
        return attrs

    # -- the unit this node describes ---------------------------------------------------

    def unit_config(self) -> mvu_unit.MvuConfig:
        """The HDL parameters of the unit for the node's current folding and types."""
        thresholds = self.get_nodeattr("noActivation") == 0
        odt = self.get_output_datatype()
        return mvu_unit.MvuConfig(
            mw=self.get_nodeattr("MW"), mh=self.get_nodeattr("MH"),
            pe=self.get_nodeattr("PE"), simd=self.get_nodeattr("SIMD"),
            a_bits=self.get_input_datatype(0).bitwidth(),
            w_bits=self.get_nodeattr("unitWBits"), datapath=self.get_nodeattr("datapath"),
            t_bits=odt.bitwidth() if thresholds else 0,
            acc=self.get_nodeattr("unitAccBits") if thresholds else odt.bitwidth(),
        )

    def unit_weights(self, weights: np.ndarray) -> np.ndarray:
        """FINN's (MW x MH) weight matrix as the unit's integer (MH x MW) one."""
        return np.asarray(weights, dtype=np.float64).T.round().astype(np.int64)

    def unit_thresholds(self, thresholds: np.ndarray) -> np.ndarray:
        """FINN's thresholds as the unit's MH x (2^T-1) integers: broadcast over channels,
        padded with a value no accumulator reaches. Thresholds are integers already (the
        conversion rounded them up, which for integer accumulators compares the same)."""
        cfg = self.unit_config()
        thr = np.asarray(thresholds, dtype=np.float64)
        thr = np.broadcast_to(thr, (cfg.mh, thr.shape[-1]))
        n = (1 << cfg.t_bits) - 1
        # the conversion left a spare accumulator bit when padding: never reached
        pad = np.full((cfg.mh, n - thr.shape[1]), (1 << (cfg.acc_bits - 1)) - 1)
        return np.concatenate([np.ceil(thr).astype(np.int64), pad], axis=1)

    # -- execution -----------------------------------------------------------------------

    def execute_node(self, context: dict[str, np.ndarray], graph: Any) -> None:
        """The unit's numpy reference: the accumulator, or the count of thresholds met."""
        node = self.onnx_node
        x = context[node.input[0]].reshape(-1, self.get_nodeattr("MW"))
        weights = self.unit_weights(context[node.input[1]])
        thresholds = None
        if self.get_nodeattr("noActivation") == 0:
            thresholds = np.asarray(context[node.input[2]], dtype=np.float64)
            thresholds = np.ceil(np.broadcast_to(
                thresholds, (self.get_nodeattr("MH"), thresholds.shape[-1])))
        out = mvu_unit.reference(weights, thresholds, x.round().astype(np.int64))
        shape = context[node.output[0]].shape
        context[node.output[0]] = out.astype(np.float32).reshape(shape)

    # -- estimates (bench.rtl.mvu_fit) ---------------------------------------------------

    def unit_estimate(self) -> dict[str, float]:
        return mvu_fit.predict(self.unit_config(), dsp=bool(self.get_nodeattr("unitDsp")))


class QnnbenchMVU_rtl(QnnbenchMVU, RTLBackend):
    """The unit's HDL for one node: sources, memory files, a top with FINN's streams."""

    def get_nodeattr_types(self) -> dict[str, Any]:
        attrs = QnnbenchMVU.get_nodeattr_types(self)
        attrs.update(RTLBackend.get_nodeattr_types(self))
        return attrs

    def generate_hdl(self, model: Any, fpgapart: str, clk: float) -> None:
        code_gen_dir = Path(self.get_nodeattr("code_gen_dir_ipgen"))
        cfg = self.unit_config()
        widths = self.get_instream_width_padded(0), self.get_outstream_width_padded(0)
        top = write_unit_hdl(code_gen_dir, mvu_unit.sources(), "qnnbench_mvu_top",
                             cfg.params(), lambda name: wrapper(name, cfg, *widths))
        node = self.onnx_node
        thresholds = None
        if cfg.t_bits:
            thresholds = self.unit_thresholds(model.get_initializer(node.input[2]))
        weights = self.unit_weights(model.get_initializer(node.input[1]))
        mvu_unit.write_memories(cfg, weights, thresholds, code_gen_dir)
        self.set_nodeattr("gen_top_module", top)

    def memory_parameters(self) -> dict[str, str]:
        """Parameters of the generated top naming its memory files, and the files' names
        in the code-generation directory (a stitched design points them elsewhere)."""
        files = {"WEIGHT_FILE": mvu_unit.WEIGHT_FILE}
        if self.get_nodeattr("noActivation") == 0:
            files["THRESH_FILE"] = mvu_unit.THRESH_FILE
        elif self.unit_config().has_init:
            files["INIT_FILE"] = mvu_unit.INIT_FILE
        return files

    def get_rtl_file_list(self, abspath: bool = False) -> list[Any]:
        return rtl_file_list(self, mvu_unit.SOURCES, abspath)

    def code_generation_ipi(self) -> list[str]:
        raise NotImplementedError(f"{RTL_OP_TYPE} has no Vivado IP integration; it is "
                                  "measured with Yosys and Verilator")


WRITE_PORTS = ("w_wr_en", "w_wr_addr", "w_wr_data", "t_wr_en", "t_wr_addr", "t_wr_data",
               "i_wr_en", "i_wr_addr", "i_wr_data")


def wrapper(top: str, cfg: mvu_unit.MvuConfig, in_width: int, out_width: int) -> str:
    """A top module with FINN's stream names (in0_V/out0_V, byte-padded) around the unit.

    The unit's memory write ports stay ports of the top (prefixed `wr_`): tied low they
    would make the memories constants that synthesis folds into the datapath, measuring
    one weight matrix instead of the layer (see hdl/README.md).
    """
    waw = max(1, (cfg.nf * cfg.sf - 1).bit_length())
    taw = max(1, (cfg.nf - 1).bit_length())
    tword = cfg.pe * ((1 << cfg.t_bits) - 1) * cfg.acc_bits if cfg.t_bits else 1
    iword = cfg.pe * cfg.init_bits if cfg.has_init else 1
    widths = {"w_wr_en": 1, "w_wr_addr": waw,
              "w_wr_data": cfg.pe * cfg.simd * cfg.code_bits, "t_wr_en": 1,
              "t_wr_addr": taw, "t_wr_data": tword, "i_wr_en": 1, "i_wr_addr": taw,
              "i_wr_data": iword}
    params = ", ".join(f".{k}({v})" for k, v in cfg.params().items())
    ports = ",\n".join(f"  input [{widths[p] - 1}:0] wr_{p}" for p in WRITE_PORTS)
    conns = ", ".join(f".{p}(wr_{p})" for p in WRITE_PORTS)
    return f"""// {top}: qnnbench_mvu with FINN's stream names (generated by bench.finn_flow.mvu_op)
module {top} #(
  // memory files, relative to the tools' working directory (a stitched design sets them)
  parameter string WEIGHT_FILE = "{mvu_unit.WEIGHT_FILE}",
  parameter string THRESH_FILE = "{mvu_unit.THRESH_FILE}",
  parameter string INIT_FILE = "{mvu_unit.INIT_FILE}"
) (
  input ap_clk,
  input ap_rst_n,
  input [{in_width - 1}:0] in0_V_TDATA,
  input in0_V_TVALID,
  output in0_V_TREADY,
  output [{out_width - 1}:0] out0_V_TDATA,
  output out0_V_TVALID,
  input out0_V_TREADY,
{ports}
);
  wire [{cfg.out_width - 1}:0] out;
  assign out0_V_TDATA = {out_width}'(out);
  qnnbench_mvu #({params},
    .WEIGHT_FILE(WEIGHT_FILE), .THRESH_FILE(THRESH_FILE), .INIT_FILE(INIT_FILE)) unit (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_tdata(in0_V_TDATA[{cfg.in_width - 1}:0]), .s_axis_tvalid(in0_V_TVALID),
    .s_axis_tready(in0_V_TREADY),
    .m_axis_tdata(out), .m_axis_tvalid(out0_V_TVALID), .m_axis_tready(out0_V_TREADY),
    {conns}
  );
endmodule
"""


def register() -> None:
    """Put both classes into the dicts FINN's registry consults (idempotent)."""
    _hw_ops[OP_TYPE] = QnnbenchMVU
    _rtl_ops[RTL_OP_TYPE] = QnnbenchMVU_rtl


register()
