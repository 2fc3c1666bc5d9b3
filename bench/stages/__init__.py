"""The work itself, one module per stage: data, training, export, verification, folding.

Each module is plain functions from typed inputs to typed results; caching, timing and
failure handling are the run package's job, and FINN is reached only through
`bench.finn_flow`.
"""
