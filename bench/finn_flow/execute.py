"""FINN's Python simulation of a hardware graph: the bit-exact software reference."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.finn_flow.env import quiet

if TYPE_CHECKING:
    from bench.finn_flow.graph import HwGraph


def execute_hw_graph(hw: HwGraph, inputs: np.ndarray, work_dir: Path) -> np.ndarray:
    """Run the hardware graph in FINN's Python simulation, one sample at a time.

    Specialized (HLS/RTL) nodes only simulate through cppsim/rtlsim, which need Xilinx
    headers or tools, so the graph is first mapped back to FINN's abstract HW layers,
    whose Python execution is the bit-exact reference for the specialized ones.
    """
    from finn.util.execution import execute_parent
    from finn.util.verification import despecialize_model

    graph = hw.model()
    child = work_dir / "hw_graph_python.onnx"
    with quiet():
        despecialize_model(graph).save(str(child))
    outputs = []
    with quiet():
        for sample in inputs:
            out = execute_parent(str(hw.parent_path), str(child), sample[None].astype(np.float32))
            outputs.append(np.asarray(out).reshape(-1))
    return np.stack(outputs)
