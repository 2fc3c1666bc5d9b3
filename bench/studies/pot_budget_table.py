"""The budget study's results: one row per winner (`pot_budget.csv`), the PoT/int
throughput ratios at equal bits and at equal accuracy, and FPS against accuracy.

A winner's measured totals are those of the stitched design where it was built (FIFOs
and glue included), else the sum of its measured layers; LUTs include LUTs used as
memory, as the calibrated costs do. `fits_measured` holds those totals against the same
share of the board the search used. A winner that was not built (no `--target rtl`)
leaves the measured columns empty and is ranked on the calibrated costs.

The ratios compare the FPS a designer would get (`fps`): for a built winner its
simulated cycles per image (the stitched design's, else its slowest layer's:
`fps_basis`) at the clock it can plausibly reach (the requested clock, capped at the
Fmax estimated from its synthesized logic delay); for one that was not built, the
cycle model at the requested clock. A ratio compares like with like: the
compared FPS when both of its designs were built (`measured`), else both estimates (the
table marks those). The best integer design is, of the built ones, the fastest as built
(the search ranks at the requested clock, which built designs need not close); only
where none was built, the search's. Unbuilt designs estimated faster are named.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.devices import get_board
from bench.report.table_model import Table, fmt_int
from bench.studies.pot_budget import BudgetStudy, design_of

VPE_BITS = 8  # the integer multiplier design in the role of the paper's 16-bit VPE

COLUMNS = (
    "board", "network", "design", "weight_quant", "weight_bits", "act_bits", "datapath",
    "folding", "est_fps", "cal_fps", "sim_fps", "sim_ok", "fmax_est_mhz", "fps_at_fmax_est",
    "fps", "fps_measured", "fps_basis", "toggles_per_image",
    "cal_lut", "cal_dsp", "cal_bram18", "lut", "ff",
    "bram18", "dsp", "measured_basis", "lut_util", "dsp_util", "bram18_util", "fits",
    "fits_measured", "binding", "accuracy_mean", "accuracy_std", "accuracy_seeds",
    "status", "run_id",
)


def _measured(r: dict[str, Any]) -> tuple[dict[str, float | None], str]:
    """(LUT, FF, BRAM18, DSP) of the built design and where they come from."""
    if r.get("rtl_stitched_lut") is not None:
        lut = r["rtl_stitched_lut"] + (r.get("rtl_stitched_lutram") or 0)
        return {"lut": lut, "ff": r.get("rtl_stitched_ff"),
                "bram18": r.get("rtl_stitched_bram18"), "dsp": r.get("rtl_stitched_dsp")
                }, "stitched"
    if r.get("rtl_lut") is not None and (r.get("rtl_coverage") or 0) >= 1:
        return {"lut": r["rtl_lut"] + (r.get("rtl_lutram") or 0), "ff": r.get("rtl_ff"),
                "bram18": r.get("rtl_bram18"), "dsp": r.get("rtl_dsp")}, "layers"
    return {"lut": None, "ff": None, "bram18": None, "dsp": None}, ""


def comparison_fps(r: dict[str, Any]) -> tuple[float | None, bool]:
    """(FPS, measured): a built winner's Verilator cycles at min(requested clock, Fmax
    estimate), since a search that assumes every design closes timing at the requested
    clock credits wide, deep datapaths with speed they do not have; else the estimate."""
    fps, basis = _compared(r)
    return fps, bool(basis)


def _compared(r: dict[str, Any]) -> tuple[float | None, str]:
    """(FPS, basis): `stitched` or `layers` where measured, "" for the estimate.

    The cycles are the stitched design's; for a design that cannot be stitched (FINN's
    RTL layers) its slowest layer's, each layer simulated on its own, so that its
    measured clock counts too: comparing it at the search's estimate while its rival
    is held to a measured clock would favour whichever design was not stitched."""
    requested = 1000.0 / r["clk_ns"] if r.get("clk_ns") else None
    fmax = r.get("fmax_est_mhz")
    clock_share = min(1.0, fmax / requested) if fmax and requested else 1.0
    sim = r.get("rtl_fps")
    if sim and r.get("rtl_stitched_ok"):
        return sim * clock_share, "stitched"
    from_layers = _layers_fps(r, requested) if r.get("rtl_stitched_ok") is None else None
    if from_layers:
        return from_layers * clock_share, "layers"
    return search_fps(r), ""


def _layers_fps(r: dict[str, Any], requested_mhz: float | None) -> float | None:
    """FPS at the requested clock from the layers' own simulations: the slowest layer's
    cycles per image, or the search's cycle count where that is slower (it includes
    the width converters' input rate, which no single layer shows). None unless every
    layer was built, simulated bit-exact and timed."""
    layers = r.get("rtl_layers") or []
    if not layers or not requested_mhz or (r.get("rtl_coverage") or 0) < 1:
        return None
    cycles = [layer.get("sim_cycles_per_input") for layer in layers]
    if not all(layer.get("sim_ok") is True for layer in layers) or None in cycles:
        return None
    fps = requested_mhz * 1e6 / max(cycles)
    searched = search_fps(r)
    return min(fps, searched) if searched else fps


def search_fps(r: dict[str, Any]) -> float | None:
    """The FPS the search optimized: FINN's cycles with the width converters' input rate
    (`cal_fps`); FINN's `est_fps` for records written before that existed."""
    return r.get("cal_fps") or r.get("est_fps")


def _folding_text(r: dict[str, Any]) -> str:
    layers = [f for f in r.get("folding") or [] if f.get("pe") is not None]
    return " ".join(f"{f['pe']}/{f.get('simd') or 1}" for f in layers)


def _datapath(r: dict[str, Any]) -> str:
    """What computes the matrix-vector layers: our unit's datapaths (it picks shifts for
    any layer whose weights are all 0 or ±2^k), or FINN's MVU."""
    units = r.get("mvu_layers") or {}
    kinds = sorted({u["datapath"] for u in units.values() if u.get("datapath")})
    return "+".join(kinds) if kinds else "finn"


def accuracy_stats(records: list[dict[str, Any]]) -> dict[tuple[str, str, int], list[float]]:
    """Per (network, weight format, bits), one accuracy per seed."""
    per: dict[tuple[str, str, int], dict[int, float]] = {}
    for r in records:
        if r.get("status") == "ok" and r.get("accuracy") is not None:
            key = (r["model"], r["weight_quant"], int(r["weight_bits"]))
            per.setdefault(key, {}).setdefault(int(r.get("seed") or 0), float(r["accuracy"]))
    return {k: [v[s] for s in sorted(v)] for k, v in per.items()}


def _binding(r: dict[str, Any], budget: dict[str, float]) -> str:
    """The resource closest to its budget under the calibrated costs."""
    shares = {res: (r.get(f"cal_{res}") or 0.0) / budget[res]
              for res in ("lut", "dsp", "bram18") if budget.get(res)}
    return max(shares, key=lambda k: shares[k]).upper() if shares else ""


def winner_rows(records: list[dict[str, Any]], study: BudgetStudy) -> pd.DataFrame:
    """One row per (board, network, design, bits) of the study's first seed."""
    stats = accuracy_stats(records)
    hardware_seed = study.seeds[0]
    rows = []
    for r in records:
        design = design_of(r)
        if (design is None or design.key not in study.designs
                or int(r.get("seed") or 0) != hardware_seed
                or r.get("model") not in study.networks.get(r.get("device") or "", ())):
            continue
        if study.verify and r.get("target") != "rtl":
            continue
        board = get_board(r["device"])
        budget = {k: study.limit * v for k, v in board.capacity().items()}
        measured, basis = _measured(r)
        capacity = board.capacity()
        util = {k: (measured[k] / capacity[k] if measured[k] is not None and capacity[k]
                    else None) for k in ("lut", "dsp", "bram18")}
        fits_measured = (None if not basis else all(
            (measured[k] or 0) <= budget[k] for k in ("lut", "dsp", "bram18")))
        acc = stats.get((r["model"], r["weight_quant"], int(r["weight_bits"])), [])
        fps, fps_basis = _compared(r)
        rows.append({
            "board": board.name, "network": r["model"].upper(), "design": design.key,
            "weight_quant": r["weight_quant"], "weight_bits": r["weight_bits"],
            "act_bits": r["act_bits"], "datapath": _datapath(r),
            "folding": _folding_text(r),
            "est_fps": r.get("est_fps"), "cal_fps": search_fps(r), "sim_fps": r.get("rtl_fps"),
            "sim_ok": r.get("rtl_stitched_ok"), "fmax_est_mhz": r.get("fmax_est_mhz"),
            "fps_at_fmax_est": r.get("est_fps_at_fmax"),
            "fps": fps, "fps_measured": bool(fps_basis), "fps_basis": fps_basis,
            "toggles_per_image": r.get("rtl_toggles_per_image"),
            "cal_lut": r.get("cal_lut"), "cal_dsp": r.get("cal_dsp"),
            "cal_bram18": r.get("cal_bram18"), **measured, "measured_basis": basis,
            "lut_util": util["lut"], "dsp_util": util["dsp"], "bram18_util": util["bram18"],
            "fits": r.get("fits"), "fits_measured": fits_measured,
            "binding": _binding(r, budget) if r.get("status") == "ok" else "",
            "accuracy_mean": statistics.mean(acc) if acc else None,
            "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else None,
            "accuracy_seeds": len(acc), "status": r.get("status"), "run_id": r["run_id"],
        })
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    # a winner searched and also built: keep the built record, unless the build failed
    # (a build that ran out of time says nothing against the search's result)
    df["_rank"] = df["measured_basis"].astype(bool) * 2 + (df["status"] == "ok")
    df = df.sort_values("_rank", kind="stable").drop_duplicates(
        ["board", "network", "design", "weight_bits"], keep="last").drop(columns="_rank")
    return df.sort_values(["board", "network", "weight_quant", "weight_bits", "design"],
                          ignore_index=True)


def _usable(df: pd.DataFrame) -> pd.DataFrame:
    """Winners that count: successful, and within budget as built where they were."""
    ok = df[(df["status"] == "ok") & df["fps"].notna()]
    return ok[ok["fits_measured"].isna() | (ok["fits_measured"] == True)]  # noqa: E712


def ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Best PoT vs best int FPS per board and network, at equal bits and at equal accuracy.

    Equal accuracy: the fastest int design of any width whose mean accuracy is not below
    the PoT format's mean minus the larger of the two standard deviations (seed noise).
    Beside them, the comparison the n-BQ-NN paper makes: PoT against multipliers in DSPs
    (our `int` design) at the same bits, and against the 8-bit one (the multiplier array).
    """
    usable = _usable(df)
    out = []
    for (board, network), group in usable.groupby(["board", "network"], sort=True):
        ints = group[group["weight_quant"] == "int"]
        for _, pot in group[group["weight_quant"] == "pot"].iterrows():
            same = ints[ints["weight_bits"] == pot["weight_bits"]]
            noise = max(pot["accuracy_std"] or 0.0, ints["accuracy_std"].max() or 0.0)
            as_good = ints[ints["accuracy_mean"] >= (pot["accuracy_mean"] or 0.0) - noise]
            best_same, best_acc = _pick(same), _pick(as_good)
            dsp_same = _pick(same[same["design"] == "int"])
            vpe = _pick(ints[(ints["design"] == "int") & (ints["weight_bits"] == VPE_BITS)])
            out.append({
                "board": board, "network": network, "pot_bits": pot["weight_bits"],
                "pot_fps": pot["fps"], "pot_cal_fps": pot["cal_fps"],
                "pot_built": _built(pot),
                "pot_accuracy": pot["accuracy_mean"],
                "int_same_bits": _describe(best_same), "int_same_fps": _fps(best_same),
                "int_same_built": _built(best_same),
                "int_same_open": _open_rivals(same, best_same),
                **_ratio("ratio_same_bits", pot, best_same),
                "int_equal_acc": _describe(best_acc), "int_equal_acc_fps": _fps(best_acc),
                "int_equal_acc_built": _built(best_acc),
                "int_equal_acc_open": _open_rivals(as_good, best_acc),
                "int_equal_acc_accuracy": (best_acc["accuracy_mean"]
                                           if best_acc is not None else None),
                **_ratio("ratio_equal_acc", pot, best_acc),
                "int_dsp_fps": _fps(dsp_same), **_ratio("ratio_vs_dsp_int", pot, dsp_same),
                "int8_dsp_fps": _fps(vpe), **_ratio("ratio_vs_int8_dsp", pot, vpe),
                "energy_vs_int_same_bits": _energy_ratio(pot, best_same),
            })
    return pd.DataFrame(out)


def _pick(rows: pd.DataFrame) -> Any:
    """The fastest of `rows` a designer would get: of the built designs, the fastest as
    built; without one, the search's fastest (its estimate). The search ranks at the
    requested clock, which built designs need not close (ours reach 30-45 MHz where
    FINN's MVU closes 100), so its ranking does not decide between built designs."""
    if rows.empty:
        return None
    built = rows[rows["fps_measured"] == True]  # noqa: E712
    pool, keys = (built, ["fps", "cal_fps"]) if not built.empty else (rows, ["cal_fps"])
    return pool.sort_values(keys, ascending=False, kind="stable").iloc[0]


def _open_rivals(rows: pd.DataFrame, pick: Any) -> str:
    """The designs of `rows` not built whose estimate exceeds the built `pick` as built:
    they could be faster still (their estimate is an upper bound, at the requested
    clock), so the verdict against `pick` holds only until they are built."""
    if pick is None or not pick["fps_measured"]:
        return ""
    built = rows[rows["fps_measured"] == True]  # noqa: E712
    # the same hardware under another name was built (at 2 bits our integer unit is the
    # shift datapath, without DSPs whatever the policy)
    hardware = {_hardware(r) for _, r in built.iterrows()}
    rivals = [r for _, r in rows[rows["fps_measured"] != True].iterrows()  # noqa: E712
              if r["cal_fps"] > pick["fps"] and _hardware(r) not in hardware]
    return "; ".join(f"{_describe(r)} ({fmt_int(r['cal_fps'])})" for r in rivals)


def _hardware(row: Any) -> tuple[Any, ...]:
    """What is built: weight bits, datapath, folding and the DSP count the search gave."""
    return tuple(row.get(k) for k in ("weight_bits", "datapath", "folding", "cal_dsp"))


def _describe(row: Any) -> str:
    return "" if row is None else f"W{row['weight_bits']} {row['design']}"


def _fps(row: Any) -> float | None:
    return None if row is None else float(row["fps"])


def _built(row: Any) -> bool | None:
    return None if row is None else bool(row["fps_measured"])


def _fps_cell(fps: Any, built: Any) -> str:
    """The compared FPS, `*` where it is the estimate (the design was not built)."""
    text = fmt_int(fps)
    return f"{text}*" if text and built is False else text


def _ratio(name: str, pot: Any, other: Any) -> dict[str, Any]:
    """`name`: PoT's FPS over `other`'s, like with like: measured if both were built
    (`name_measured`), else both estimated (a measured clock cap on one side only
    would penalize whichever design was built)."""
    if other is None:
        return {name: None, f"{name}_measured": None}
    measured = bool(pot["fps_measured"] and other["fps_measured"])
    column = "fps" if measured else "cal_fps"
    value = pot[column] / other[column] if other[column] else None
    return {name: value, f"{name}_measured": measured}


def _energy_ratio(pot: Any, other: Any) -> float | None:
    """Toggles per image of the PoT winner over the int one's (both built), else None."""
    if other is None or pd.isna(pot["toggles_per_image"]) or pd.isna(other["toggles_per_image"]):
        return None
    return pot["toggles_per_image"] / other["toggles_per_image"]


def _ratio_cell(r: Any, name: str) -> str:
    text = _cell(r[name], 2)
    return f"{text}*" if text and not r.get(f"{name}_measured") else text


def _acc_text(mean: Any, std: Any) -> str:
    if mean is None or pd.isna(mean):
        return ""
    return f"{100 * mean:.1f}" + ("" if std is None or pd.isna(std) else f" ± {100 * std:.1f}")


def _cell(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return f"{value:,.{digits}f}"


def winners_table(df: pd.DataFrame, limit: float) -> Table:
    header = ["board", "network", "weights", "design", "datapath", "folding (PE/SIMD)",
              "FPS est.", "FPS sim.", "Fmax est. (MHz)", "FPS compared", "toggles/image",
              "LUT", "DSP", "BRAM18", "binds", "fits (measured)", "accuracy %"]
    rows = []
    for _, r in df.iterrows():
        fmt = f"{r['weight_quant']} W{r['weight_bits']}A{r['act_bits']}"
        fits = {True: "yes", False: "**no**"}.get(r["fits_measured"], "not built")
        if r["status"] != "ok":
            fits = f"failed ({r['status']})"
        rows.append([r["board"], r["network"], fmt, r["design"], r["datapath"], r["folding"],
                     fmt_int(r["cal_fps"]), fmt_int(r["sim_fps"]), fmt_int(r["fmax_est_mhz"]),
                     _fps_cell(r["fps"], r["fps_measured"]),
                     _cell(r["toggles_per_image"]),
                     _cell(r["lut"] if r["lut"] is not None else r["cal_lut"]),
                     _cell(r["dsp"] if r["dsp"] is not None else r["cal_dsp"]),
                     _cell(r["bram18"] if r["bram18"] is not None else r["cal_bram18"]),
                     r["binding"], fits, _acc_text(r["accuracy_mean"], r["accuracy_std"])])
    return Table(key="pot_budget", title="The fastest design within "
                 f"{100 * limit:g} % of each board, per weight format",
                 header=header, rows=rows, data=df,
                 note="LUT/DSP/BRAM18 measured (Yosys synth_xilinx of the built design) "
                 "where built, else calibrated estimates; FPS est. from the search's cycle "
                 "model (FINN's, with the width converters' input rate) at the requested "
                 "clock, FPS sim. from Verilator; FPS compared: FPS sim. (of the slowest "
                 "layer where the design cannot be stitched) at the requested clock "
                 "capped at the Fmax estimate (* the estimate: not built); "
                 "toggles/image: switching "
                 "activity of the built design (an energy proxy, relative only); accuracy "
                 "mean ± std over seeds.")


def ratios_table(rt: pd.DataFrame) -> Table:
    header = ["board", "network", "PoT", "PoT FPS", "best int, same bits", "its FPS",
              "PoT/int", "best int at PoT's accuracy", "its FPS", "PoT/int (equal acc.)",
              "PoT/int in DSPs (same bits)", "PoT/int W8 in DSPs",
              "energy PoT/int (same bits)"]
    rows = [[r["board"], r["network"], f"W{r['pot_bits']}",
             _fps_cell(r["pot_fps"], r["pot_built"]),
             r["int_same_bits"] + ("†" if r["int_same_open"] else ""),
             _fps_cell(r["int_same_fps"], r["int_same_built"]),
             _ratio_cell(r, "ratio_same_bits"),
             r["int_equal_acc"] + ("†" if r["int_equal_acc_open"] else ""),
             _fps_cell(r["int_equal_acc_fps"], r["int_equal_acc_built"]),
             _ratio_cell(r, "ratio_equal_acc"), _ratio_cell(r, "ratio_vs_dsp_int"),
             _ratio_cell(r, "ratio_vs_int8_dsp"), _cell(r.get("energy_vs_int_same_bits"), 2)]
            for _, r in rt.iterrows()]
    return Table(key="pot_budget_ratios", title="PoT vs int: fastest design that fits, "
                 "at equal bits and at equal accuracy", header=header, rows=rows, data=rt,
                 note="Ratios of the FPS a designer would get from winners that fit as "
                 "built: simulated cycles at the requested clock capped at the Fmax "
                 "estimate where both were built, else both estimated (marked *); the paper "
                 "reports 2.9x for shift PEs over 16-bit multiplier PEs on a ZCU102 at "
                 "68.7 % of the energy; energy: toggles per image of the two built winners; "
                 "best int: of the built designs the fastest as built; † an integer design "
                 "not built is estimated faster at the requested clock (the *_open columns "
                 "of pot_budget_ratios.csv name it): the ratio holds until it is built.")


def write_outputs(records: list[dict[str, Any]], study: BudgetStudy, out: Path
                  ) -> dict[str, Path]:
    """pot_budget.csv, pot_budget_ratios.csv, tables (md, tex, html) and the figure."""
    from bench.report.html import table_to_html
    from bench.report.text import table_to_latex, table_to_markdown
    from bench.studies.pot_budget_figure import fps_vs_accuracy

    out.mkdir(parents=True, exist_ok=True)
    df = winner_rows(records, study)
    rt = ratios(df)
    tables = [winners_table(df, study.limit), ratios_table(rt)]
    paths = {"csv": out / "pot_budget.csv", "ratios_csv": out / "pot_budget_ratios.csv",
             "markdown": out / "pot_budget.md", "latex": out / "pot_budget.tex",
             "html": out / "pot_budget.html"}
    df.to_csv(paths["csv"], index=False)
    rt.to_csv(paths["ratios_csv"], index=False)
    paths["markdown"].write_text("# Power-of-two vs integer under a board budget\n\n"
                                 + "\n".join(table_to_markdown(t) for t in tables))
    paths["latex"].write_text("\n\n".join(table_to_latex(t) for t in tables) + "\n")
    paths["html"].write_text("<!doctype html><meta charset='utf-8'><title>PoT budget</title>"
                             + "".join(table_to_html(t) for t in tables))
    figure = fps_vs_accuracy(df)
    if figure is not None:
        paths["figure"] = out / "pot_budget_fps_accuracy.png"
        figure.savefig(paths["figure"], dpi=120)
    return paths
