"""Measuring the calibration corpus: each configuration as FINN builds it, synthesized by Yosys.

FINN generates each layer's HDL alone in a one-node graph (`single_layer`), our measuring
tools synthesize it (`bench.rtl.measure`), and the row keeps both the measurement and
FINN's own estimate of the same layer, so the corpus also shows how far FINN's models are
off. Rows are written to the corpus file as they finish: an interrupted calibration
resumes where it stopped, and `--jobs` synthesizes several configurations at once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from bench.cost.corpus import PARTS, config_id

MEASURED = ("lut", "lutram", "ff", "carry", "bram18", "dsp", "logic_delay")


def measure_config(config: dict[str, Any], work_dir: Path, cache_dir: Path | None
                   ) -> dict[str, Any]:
    """Synthesize one configuration; the row holds what Yosys and FINN say about it."""
    from bench.finn_flow.rtl_layers import generate_layer_hdl
    from bench.finn_flow.single_layer import layer_model
    from bench.rtl import measure

    started = time.monotonic()
    part = PARTS[config["family"]]
    plain = {k: v for k, v in config.items() if k != "family"}
    model = layer_model(plain)
    node = model.graph.node[0].name
    hdl = generate_layer_hdl(model, node, work_dir, part, 10.0)
    row = measure.measure_layer(hdl, None, part, synth_cache_dir=cache_dir)
    return {
        "config": config,
        **{key: row[key] for key in MEASURED},
        "finn": {k.removeprefix("est_"): row[k] for k in row if k.startswith("est_")},
        "seconds": round(time.monotonic() - started, 1),
    }


def _measure_one(args: tuple[dict[str, Any], Path, Path | None]) -> dict[str, Any]:
    os.nice(5)  # calibration runs for a while: leave the machine responsive
    return measure_or_fail(*args)


def measure_or_fail(config: dict[str, Any], work_dir: Path, cache_dir: Path | None
                    ) -> dict[str, Any]:
    """`measure_config`, or a row saying why the tools could not build the configuration:
    the corpus keeps it (it is not retried every run) and the fit leaves it out."""
    from bench.rtl.tools import RtlToolError, RtlToolInterrupted

    try:
        return measure_config(config, work_dir, cache_dir)
    except RtlToolInterrupted:
        raise  # killed or out of time: stored as failed, it would never be tried again
    except (RtlToolError, RuntimeError, ValueError) as err:
        lines = [ln for ln in str(err).splitlines() if "ERROR" in ln] or [str(err)]
        return {"config": config, "error": lines[-1].strip()[:300]}


def measure_corpus(
    entries: list[tuple[str, dict[str, Any]]], done: dict[str, dict[str, Any]],
    work_root: Path, cache_dir: Path | None, jobs: int,
    on_row: Callable[[str, dict[str, Any]], None],
) -> None:
    """Measure every entry not in `done` (by `config_id`), `jobs` at a time, calling
    `on_row(role, row)` as each finishes so the caller can store it at once."""
    todo = [(role, c) for role, c in entries if config_id(c) not in done]
    if jobs <= 1:
        for role, config in todo:
            on_row(role, measure_or_fail(config, work_root / config_id(config), cache_dir))
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending: dict[Future[dict[str, Any]], str] = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < jobs:
                role, config = queue.pop(0)
                args = (config, work_root / config_id(config), cache_dir)
                pending[pool.submit(_measure_one, args)] = role
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                on_row(pending.pop(future), future.result())


def measure_dsp_pair(pair: tuple[int, int, int, int, int, int], work_dir: Path
                     ) -> dict[str, Any]:
    """Our integer unit synthesized with its multipliers in DSPs and in LUTs."""
    from bench.rtl.mvu_unit import synthesize_unit

    mw, mh, pe, simd, a_bits, w_bits = pair
    results = {}
    for policy, dsp in (("auto", True), ("off", False)):
        res = synthesize_unit(mw, mh, pe, simd, a_bits, w_bits, "int",
                              work_dir / policy, dsp=dsp)
        results[policy] = {"lut": res.lut + res.lutram, "ff": res.ff, "dsp": res.dsp}
    return {"pair": list(pair), **results}


def measuring_tools() -> dict[str, str]:
    """The versions of the tools the rows are measured with (stamped into the corpus)."""
    from bench.rtl.tools import tool_versions

    return dict(tool_versions())


def load_corpus(path: Path) -> dict[str, Any]:
    """The stored corpus ({"tools": ..., "rows": [...]}), or an empty one."""
    if not path.is_file():
        return {"tools": {}, "rows": []}
    return json.loads(path.read_text())


def save_corpus(path: Path, corpus: dict[str, Any]) -> None:
    """Rows sorted by type and name, one per line, so a diff shows what changed."""
    rows = sorted(corpus["rows"], key=lambda r: (r["config"]["op_type"], r["role"],
                                                 config_id(r["config"])))
    lines = ",\n".join("  " + json.dumps(r, sort_keys=True) for r in rows)
    tmp = path.with_suffix(".tmp")
    pairs = json.dumps(corpus.get("dsp_pairs", []), sort_keys=True)
    tmp.write_text('{"tools": ' + json.dumps(corpus["tools"], sort_keys=True)
                   + ',\n "dsp_pairs": ' + pairs + ',\n "rows": [\n' + lines + "\n]}\n")
    os.replace(tmp, path)
