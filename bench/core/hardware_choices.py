"""The named choices of how a point becomes hardware (each a spec field's allowed values)."""

from __future__ import annotations

# How far to take the build: FINN's estimates, measured RTL (Yosys, Verilator), measured
# RTL also placed and routed on an open flow (ECP5, nextpnr), or, with Vivado, synthesis
# or a bitfile.
TARGETS = ("estimate", "rtl", "route", "synth", "bitfile")
RTL_TARGETS = ("rtl", "route")  # the targets that measure the RTL layers
# The matrix-vector layers: FINN's MVAU, or our unit (bench/finn_flow/mvu_op.py).
MVU_KINDS = ("finn", "rtl")
# Multipliers in DSP slices where Yosys infers them (auto), or in LUTs and carry chains
# (off: `synth_xilinx -nodsp`), for designs compared on LUTs alone.
DSP_POLICIES = ("auto", "off")
# FINN's layer implementations: RTL wherever FINN has an RTL variant that computes the
# layer (thresholds standalone, so MVUs can be RTL), or FINN's own default choice, which
# is mostly HLS. Only RTL layers can be measured without Vivado, so only they can have
# calibrated costs; "hls" is what every record meant before the choice existed.
IMPL_STYLES = ("rtl", "hls")
