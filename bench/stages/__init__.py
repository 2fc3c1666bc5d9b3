"""The stages of a run, declared as data by topic, and the plan that orders them.

`model` (data, training, the FP32 twin), `hw_graph` (export or an external file, FINN's
hardware graph, verification, hardware accuracy, the foldable view), `choose` (the
folding(s) a point's strategy picks, FINN's estimates), `rtl_measure` (measured RTL layers
and the stitched network), `vivado` (the Vivado targets); `artifacts` holds the types and
constants they share, `plan` the stage lists. The work itself lives in `bench.data`,
`bench.learn`, `bench.finn_flow` and `bench.rtl`; the engine that runs stages in
`bench.engine`.
"""
