"""The stage engine: the `Stage` type and the one loop that caches, times and attributes
failures (`stage`), the on-disk store of cache entries and records (`store`), and what
goes into cache keys besides a stage's inputs (`provenance`).

It knows no stage in particular: the stages themselves are declared in `bench.stages`.
"""
