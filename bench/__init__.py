"""qnn-bench: quantized neural networks from Brevitas through QONNX to FINN estimates."""

__version__ = "0.1.0"
