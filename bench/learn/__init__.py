"""The PyTorch side of a run: quantization-aware training, QONNX export checked against
PyTorch, and the numeric comparisons that verify a hardware graph.

The only package that imports `models` (the Brevitas networks); it never imports FINN.
"""
