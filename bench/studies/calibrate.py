"""`qnnbench calibrate`: measure the corpus, fit the cost models, and grade them.

The corpus (`bench.cost.corpus`) is synthesized configuration by configuration into
`bench/cost/corpus.json` (resumable: finished rows are kept), the models are fitted on its
"fit" rows into `bench/cost/calibration.json`, and the check grades them on the
held-out rows. `--check` only grades what is stored; nothing is synthesized.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.core.progress import epoch_progress
from bench.core.warn import warn
from bench.cost import model as cost_model
from bench.cost.corpus import DSP_PAIRS, config_id, corpus


def measure(results_dir: Path, jobs: int, corpus_file: Path = cost_model.CORPUS_FILE,
            progress: bool = True) -> int:
    """Synthesize the corpus rows not yet stored; returns how many were measured."""
    from bench.finn_flow.calibration import (
        load_corpus,
        measure_corpus,
        measure_dsp_pair,
        measuring_tools,
        save_corpus,
    )

    store = load_corpus(corpus_file)
    versions = measuring_tools()
    if store["rows"] and store["tools"] and store["tools"] != versions:
        warn(f"{corpus_file} was measured with other tool versions ({store['tools']}); "
             "new rows use these, delete the file to measure everything again")
    store["tools"] = store["tools"] or versions
    done = {config_id(r["config"]): r for r in store["rows"]}
    entries = corpus()
    todo = [e for e in entries if config_id(e[1]) not in done]
    with epoch_progress(len(todo), "calibrate", enabled=progress and bool(todo)) as advance:
        def on_row(role: str, row: dict[str, Any]) -> None:
            store["rows"].append({**row, "role": role})
            save_corpus(corpus_file, store)
            advance(f"{row['config']['op_type']} "
                    + (f"{row['seconds']:.0f} s" if "error" not in row else "failed"))

        measure_corpus(todo, done, results_dir / "calibrate", results_dir / "cache" / "yosys",
                       jobs, on_row)
    pairs_done = {tuple(p["pair"]) for p in store.get("dsp_pairs", [])}
    for pair in DSP_PAIRS:
        if pair not in pairs_done:
            name = "-".join(map(str, pair))
            store.setdefault("dsp_pairs", []).append(
                measure_dsp_pair(pair, results_dir / "calibrate" / f"dsp-pair-{name}"))
            save_corpus(corpus_file, store)
    return len(todo)


def refit(corpus_file: Path = cost_model.CORPUS_FILE,
          out: Path = cost_model.CALIBRATION_FILE) -> dict[str, Any]:
    """Fit every model on the stored rows and write the calibration file."""
    stored = json.loads(corpus_file.read_text())
    rows = stored["rows"]
    data: dict[str, Any] = {
        "description": "per layer type and Yosys family: LUT, FF and logic-delay "
        "coefficients on the terms of bench.cost.features, and the BRAM/DSP counting rule; "
        "fitted by qnnbench calibrate on the 'fit' rows of corpus.json",
        "tools": stored["tools"],
        "models": cost_model.fit_all(rows),
        "lut_per_dsp": cost_model.lut_per_dsp(stored.get("dsp_pairs", [])),
        "lut_per_dsp_pairs": stored.get("dsp_pairs", []),
    }
    data["check"] = cost_model.check(cost_model.CostModel(data), rows)
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    cost_model.forget(out)
    return data


def check_table(calibration: Path = cost_model.CALIBRATION_FILE,
                corpus_file: Path = cost_model.CORPUS_FILE) -> list[dict[str, Any]]:
    """The stored models graded on the stored held-out rows (recomputed, not read back)."""
    if not calibration.is_file() or not corpus_file.is_file():
        from bench.core.errors import UserError

        raise UserError(f"no calibration at {calibration}: run qnnbench calibrate first")
    rows = json.loads(corpus_file.read_text())["rows"]
    return cost_model.check(cost_model.load(calibration), rows)


def format_table(table: list[dict[str, Any]]) -> str:
    """The check as aligned text: one line per model, the goal's verdict last."""
    head = (f"{'layer type':32} {'family':6} {'fit':>4} {'held':>4} {'LUT sMAPE':>9} "
            f"{'FINN LUT':>9} {'FF sMAPE':>8} {'delay':>6} {'BRAM =':>6} {'DSP =':>6}  goal")
    lines = [head]
    for t in table:
        verdict = "met" if t["meets_goal"] else "MISSED (LUT sMAPE > 10 %)"
        if t.get("unbuildable"):
            verdict += f"; {t['unbuildable']} configurations Yosys could not build"
        lines.append(
            f"{t['type']:32} {t['family']:6} {t['fit_configs']:>4} {t['held_out']:>4} "
            f"{100 * t['lut_smape']:>8.1f}% {100 * t['finn_lut_smape']:>8.1f}% "
            f"{100 * t['ff_smape']:>7.1f}% {100 * t['delay_smape']:>5.0f}% "
            f"{100 * t['bram18_exact']:>5.0f}% {100 * t['dsp_exact']:>5.0f}%  {verdict}")
    return "\n".join(lines)
