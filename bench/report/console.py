"""The short table printed after a run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

NO_DATA = "no data"


def _throughput(r: dict[str, Any]) -> str:
    """The estimate with the width converters' input rate where it differs from FINN's:
    FINN's is the one a reader could check against FINN, ours the one that ran."""
    finn, ours = r.get("est_fps"), r.get("cal_fps")
    if ours is None or finn is None or abs(ours - finn) <= 1e-6 * finn:
        return _value(finn, ",.0f", unit=" FPS")
    return (f"{ours:,.0f} FPS [yellow](FINN's cycle model: {finn:,.0f}; it does not count "
            f"a width converter's input rate)[/]")


def _pct(record: dict[str, Any], resource: str) -> str:
    fraction = (record.get("utilization") or {}).get(resource)
    return "" if fraction is None else f" ({100 * fraction:.1f} %)"


def _value(value: float | None, form: str, scale: float = 1.0, unit: str = "") -> str:
    """A number as `form` (after multiplying by `scale`), or "no data" when the record has
    none: hardware-only runs (dataset none) and older records leave some fields empty."""
    if value is None:
        return NO_DATA
    return f"{value * scale:{form}}{unit}"


def _resource(record: dict[str, Any], key: str) -> str:
    """The calibrated cost with its utilization and FINN's estimate beside it; FINN's alone
    for records without calibrated costs (older ones)."""
    finn = f"{record[key]:,.0f}"
    if record.get(f"cal_{key}") is None:
        return f"{finn}{_pct(record, key)} (FINN)"
    return f"{record[f'cal_{key}']:,.0f}{_pct(record, key)}  [dim](FINN: {finn})[/]"


def _cost_basis(coverage: float) -> str:
    if coverage >= 1:
        return "calibrated on Yosys for every layer"
    return (f"calibrated on Yosys for {100 * coverage:.0f} % of layers, FINN's estimate "
            "for the rest")


def _accuracy(record: dict[str, Any]) -> str:
    if record.get("accuracy") is None and record.get("dataset") == "none":
        return f"{NO_DATA} (dataset none)"
    return _value(record.get("accuracy"), ".2f", 100, " %")


def print_run_summary(outcome: Any, console: Console | None = None) -> None:
    console = console or Console()
    r = outcome.record.model_dump()
    where = str(outcome.path)
    if outcome.cached:
        console.print(f"[green]cached:[/] record already exists, nothing to do ({where})")
    elif outcome.cached_stages:
        console.print(f"reused cached stages: {', '.join(outcome.cached_stages)}")
    if r["status"] != "ok":
        console.print(
            f"[red]run failed[/] in {r.get('failed_stage')}: {r.get('error')}\nrecord: {where}"
        )
        return

    title = (
        f"{r['model']} on {r['dataset']}, W{r['weight_bits']}A{r['act_bits']} "
        f"({r['weight_quant']}), {r['device']} @ {1000 / r['clk_ns']:.0f} MHz"
    )
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value")
    table.add_row("accuracy (test)", _accuracy(r))
    if r.get("fp32_accuracy") is not None:
        table.add_row("FP32 baseline", f"{100 * r['fp32_accuracy']:.2f} %")
    table.add_row("throughput (est.)", _throughput(r))
    table.add_row("latency (est.)", _value(r.get("est_latency_ns"), ",.2f", 1e-3, " us"))
    for label, key in (("LUT", "lut"), ("BRAM18", "bram18"), ("DSP", "dsp")):
        table.add_row(label, _resource(r, key))
    if r.get("cost_coverage") is not None:
        table.add_row("costs", _cost_basis(r["cost_coverage"]))
    table.add_row("fits device", {True: "yes", False: "[red]no[/]"}.get(r["fits"], NO_DATA))
    table.add_row("bottleneck", f"{r['est_bottleneck']} ({r['est_max_cycles']:,} cycles)")
    folding = ", ".join(
        f"{f['node']} PE{f['pe']}" + (f"/SIMD{f['simd']}" if f["simd"] is not None else "")
        for f in r["folding"] if f["pe"] is not None
    )
    table.add_row("folding", folding)
    verdict = "[green]bit-exact[/]" if r["verify_ok"] else (
        f"[red]MISMATCH[/] in {r.get('verify_mismatched_samples', '?')} of"
    )
    table.add_row(
        "verification",
        f"{verdict} {'on ' if r['verify_ok'] else ''}{r['verify_samples']} samples "
        f"(max abs err {_value(r.get('verify_max_abs_err'), '.2g')})",
    )
    if r.get("rtl_lut") is not None:
        measured = sum("lut" in row for row in r["rtl_layers"])
        table.add_row(
            "RTL (Yosys)",
            f"LUT {r['rtl_lut']:,}"
            + (f" + {r['rtl_lutram']:,} as memory" if r.get("rtl_lutram") else "")
            + f", FF {r['rtl_ff']:,}, BRAM18 {r['rtl_bram18']:,}, "
            f"DSP {r['rtl_dsp']:,} over {measured} of {len(r['rtl_layers'])} layers",
        )
        if r.get("rtl_cal_lut_error") is not None:
            table.add_row("calibrated vs RTL", f"{r['rtl_cal_lut']:,.0f} LUT calibrated, "
                          f"{100 * r['rtl_cal_lut_error']:+.1f} % against measured")
        table.add_row("RTL (Verilator)", "[green]bit-exact[/]" if r["rtl_sim_ok"]
                      else "[red]MISMATCH[/] " + _failed_layers(r["rtl_layers"]))
    if r.get("rtl_stitched_ok") is not None:
        cycles = r["rtl_cycles_per_image"]
        table.add_row(
            "RTL stitched",
            ("[green]bit-exact[/]" if r["rtl_stitched_ok"] else "[red]MISMATCH[/]")
            + (f", {r['rtl_fps']:,.0f} FPS ({cycles:g} cycles/image), latency "
               f"{r['rtl_latency_cycles']:,} cycles" if cycles else ", no steady state")
            + (f"; LUT {r['rtl_stitched_lut']:,}, FF {r['rtl_stitched_ff']:,}, "
               f"BRAM18 {r['rtl_stitched_bram18']:,}, DSP {r['rtl_stitched_dsp']:,}"
               if r.get("rtl_stitched_lut") is not None else ""),
        )
        if r.get("rtl_stitched_synth_skipped"):
            table.add_row("RTL stitched synth", f"not run: {r['rtl_stitched_synth_skipped']}")
        if r.get("rtl_stalled_ok") is not None:
            fps = r.get("rtl_stalled_fps")
            table.add_row(
                "RTL backpressure",
                ("[green]bit-exact[/]" if r["rtl_stalled_ok"] else "[red]MISMATCH[/]")
                + " with the output stalled in half the cycles"
                + (f", {fps:,.0f} FPS" if fps else ""),
            )
        if r.get("fifo_depths") is not None:
            table.add_row("FIFOs", _fifos(r))
        if r.get("rtl_toggles_per_image") is not None:
            table.add_row("switching activity", f"{r['rtl_toggles_per_image']:,.0f} toggles "
                          "per image (energy proxy: compare designs, not joules)")
    elif r.get("rtl_stitched_skipped"):
        table.add_row("RTL stitched", f"not stitched: {r['rtl_stitched_skipped']}")
    if r.get("fmax_est_mhz") is not None:
        table.add_row("clock (est.)", _clock(r))
    if r.get("route_layers") is not None:
        table.add_row(f"routed ({r.get('route_device')})", _routed(r))
    console.print(table)
    console.print(f"record: {where}", soft_wrap=True)


def _fifos(r: dict[str, Any]) -> str:
    """The FIFO depths sized by simulation against one image per FIFO, and the rate
    FINN's default depths (no FIFOs) would leave."""
    depths = ", ".join(str(d) for d in r["fifo_depths"].values()) or "none"
    cost = r.get("fifo_cost") or {}
    text = (f"sized by simulation: depths {depths}; {r['fifo_bits']:,} bits "
            f"(one image each: {r['fifo_one_image_bits']:,})")
    if cost:
        text += (f"; {cost['lut']:,} LUT, {cost['lutram']:,} LUTRAM, {cost['ff']:,} FF, "
                 f"{cost['bram18']:,} BRAM18")
    if r.get("rtl_finn_fifo_fps"):
        text += f"; without FIFOs (FINN's default depth) {r['rtl_finn_fifo_fps']:,.0f} FPS"
    return text


def _clock(r: dict[str, Any]) -> str:
    """The Fmax estimate against the requested clock. An implausible clock is shown in
    red with the FPS it would leave: every FPS above assumes the clock is met."""
    basis = (f"Fmax ~{r['fmax_est_mhz']:,.0f} MHz est. from logic delay "
             f"({r.get('fmax_est_source') or 'RTL'}; routing allowance fitted on ECP5)")
    requested = 1000 / r["clk_ns"]
    if r.get("clock_plausible") is False:
        fps = r.get("est_fps_at_fmax")
        return (f"[red]IMPLAUSIBLE[/] {requested:,.0f} MHz requested; {basis}"
                + (f"; ~{fps:,.0f} FPS at that clock" if fps is not None else ""))
    return f"{requested:,.0f} MHz requested is plausible: {basis}"


def _routed(r: dict[str, Any]) -> str:
    """The routed Fmax on ECP5 and the FPS at it, or why there is none."""
    failed = [f"{x['node']}: {x['route_error']}" for x in r["route_layers"]
              if x.get("route_error")]
    if r.get("route_fmax_mhz") is None:
        return "[red]not routed[/]: " + ("; ".join(failed) or str(r.get("route_fmax_source")))
    met = "[green]met[/]" if r.get("route_clock_met") else "[red]not met[/]"
    layers = [x["fmax_mhz"] for x in r["route_layers"] if x.get("fmax_mhz")]
    text = (f"Fmax {r['route_fmax_mhz']:,.1f} MHz ({r['route_fmax_source']}; requested "
            f"{1000 / r['clk_ns']:,.0f}: {met}), {r['route_fps']:,.0f} FPS at it")
    if layers:
        text += f"; layers {min(layers):,.1f}-{max(layers):,.1f} MHz"
    if r.get("route_lut4") is not None:
        text += f"; LUT4 {r['route_lut4']:,}, MULT18 {r['route_dsp']:,}, DP16KD {r['route_bram']:,}"
    if r.get("route_bitstream"):
        text += f"; bitstream {r['route_bitstream']}"
    stitched_error = (r.get("route_stitched") or {}).get("route_error")
    if stitched_error:
        text += f"; [red]stitched design not routed[/]: {stitched_error}"
    return text + (f"; not routable: {'; '.join(failed)}" if failed else "")


def _failed_layers(rows: list[dict[str, Any]]) -> str:
    """The measured layers that are not bit-exact, each with why (or a generic note)."""
    failed = [r for r in rows if "sim_ok" in r and r["sim_ok"] is not True]
    if not failed:
        return "in at least one layer"
    return "in " + "; ".join(
        f"{r['node']}: {r.get('sim_error') or 'output differs from FINN'}" for r in failed)
