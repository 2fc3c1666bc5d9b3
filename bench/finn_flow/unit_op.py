"""What our units share as FINN layers (`mvu_op`, `pool_op`): FINN's per-resource
estimate methods read from one `unit_estimate()`, and the generated HDL directory (the
unit's sources plus a top named by its parameters)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


class EstimatesFromUnit:
    """FINN's estimate methods, each one read from the layer's `unit_estimate()` (a dict
    with lut and, where the unit has them, bram18 and dsp). Listed before FINN's base
    class, so that these answer instead of FINN's formulas."""

    def unit_estimate(self) -> dict[str, float]:
        raise NotImplementedError

    def lut_estimation(self, fpgapart: str = "") -> int:
        return round(self.unit_estimate()["lut"])

    def dsp_estimation(self, fpgapart: str = "") -> int:
        return int(self.unit_estimate().get("dsp", 0))

    def bram_estimation(self, fpgapart: str = "") -> int:
        return round(self.unit_estimate().get("bram18", 0))

    def uram_estimation(self, fpgapart: str = "") -> int:
        return 0

    def bram_efficiency_estimation(self, fpgapart: str = "") -> float:
        return 1.0

    def uram_efficiency_estimation(self, fpgapart: str = "") -> float:
        return 1.0


def write_unit_hdl(code_gen_dir: Path, sources: list[Path], prefix: str,
                   params: dict[str, Any], wrapper: Callable[[str], str]) -> str:
    """Copy the unit's sources into `code_gen_dir` and write its top, named by the
    unit's parameters so that layers of one shape share a compiled simulation; the top's
    module name."""
    code_gen_dir.mkdir(parents=True, exist_ok=True)
    for src in sources:
        shutil.copy(src, code_gen_dir / src.name)
    digest = hashlib.sha256(repr(sorted(params.items())).encode()).hexdigest()[:10]
    top = f"{prefix}_{digest}"
    (code_gen_dir / f"{top}.sv").write_text(wrapper(top))
    return top


def rtl_file_list(inst: Any, source_names: tuple[str, ...] | list[str],
                  abspath: bool) -> list[Path]:
    """The unit's sources and its generated top, as FINN's `get_rtl_file_list` lists
    them."""
    code_gen_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen")) if abspath else Path()
    names = [*source_names, f"{inst.get_nodeattr('gen_top_module')}.sv"]
    return [code_gen_dir / n for n in names]
