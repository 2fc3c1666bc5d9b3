"""Layer costs calibrated on our own Yosys measurements (see `bench.cost.model`).

A leaf: plain arithmetic on plain layer descriptions, so the folding search can price
thousands of foldings without FINN or any tool.
"""
