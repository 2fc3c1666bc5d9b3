"""`qnnbench`: the command line.

Heavy libraries (torch, Brevitas, FINN) are imported only once work is needed, so input
errors and cached runs answer immediately.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

from bench.core import interrupt
from bench.core.spec import DEFAULTS, RunSpec, SpecError, make_spec

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and exit with the usage code."""

    def error(self, message: str) -> NoReturn:
        print(f"qnnbench: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qnnbench",
        description="Benchmark quantized neural networks on FPGAs with Brevitas, QONNX and FINN.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run", help="train, export, build, verify and estimate one run point",
        description="Run one point: train (QAT), export to QONNX, build the FINN hardware "
        "graph, verify it against Brevitas, fold and estimate. Cached stages are reused.",
    )
    run.add_argument("--model", help=f"model name (default {DEFAULTS['model']})")
    run.add_argument("--dataset", help=f"data set (default {DEFAULTS['dataset']})")
    run.add_argument("--data-dir", help="directory holding the data set files")
    run.add_argument("--bits", help="weight and activation bits, 1..8")
    run.add_argument("--wbits", help=f"weight bits (default {DEFAULTS['weight_bits']})")
    run.add_argument("--abits", help=f"activation bits (default {DEFAULTS['act_bits']})")
    run.add_argument("--quant", help="weight quantizer (default int)")
    run.add_argument("--pe", help=f"requested PE for every layer (default {DEFAULTS['pe']})")
    run.add_argument("--simd", help="requested SIMD for every layer (default: same as PE)")
    run.add_argument("--epochs", help=f"training epochs (default {DEFAULTS['epochs']})")
    run.add_argument("--seed", help="random seed (default 0)")
    run.add_argument("--board", help=f"target board (default {DEFAULTS['board']})")
    run.add_argument("--clk-ns", help="clock period in ns (default 10.0 = 100 MHz)")
    run.add_argument("--target", help="estimate (default); rtl: measure the RTL layers with "
                     "Yosys and Verilator; with Vivado: synth, bitfile")
    run.add_argument("--mvu", help="matrix-vector layers: finn (default, FINN's MVAU); rtl: "
                     "our unit with int/PoT datapaths where it computes the same")
    run.add_argument("--fp32-baseline", action="store_true",
                     help="also train the unquantized model (same recipe): fp32_accuracy")
    run.add_argument("--results-dir", default="results", help="where records go (default results)")
    run.add_argument("--quiet", action="store_true", help="no progress output")

    sweep = sub.add_parser(
        "sweep", help="run every point of a YAML sweep spec (resumable)",
        description="Run the product of a sweep spec's lists. Finished points are skipped, "
        "so a killed sweep resumes where it stopped; failed points are recorded and skipped "
        "on reruns unless --retry-failed.",
    )
    sweep.add_argument("spec", help="sweep spec (YAML)")
    sweep.add_argument("--results-dir", default="results", help="default results")
    sweep.add_argument("--jobs", default="1", help="local worker processes (default 1)")
    sweep.add_argument("--dask-scheduler", help="address of a running Dask scheduler, "
                       "e.g. tcp://10.0.0.5:8786 (workers need qnn-bench and a shared "
                       "results directory)")
    sweep.add_argument("--retry-failed", action="store_true", help="rerun failed points")
    sweep.add_argument("--quiet", action="store_true", help="no progress output")

    perf = sub.add_parser(
        "perf", help="time incremental estimates against a FINN build per point",
        description="Time the same folding points of TFC W2A2 evaluated incrementally and "
        "by a full FINN estimate build each; check the estimates are identical.",
    )
    perf.add_argument("--results-dir", default="results", help="cache location")
    perf.add_argument("--naive-points", default="3", help="full FINN builds to time (3)")
    perf.add_argument("--repeats", default="5", help="repetitions of the incremental pass")
    perf.add_argument("--json", action="store_true", help="print the result as JSON last")

    repro = sub.add_parser(
        "reproduce", help="reproduce the seed paper's tables (TFC 2-8 bits x paper foldings)",
        description="Train TFC at W=A 2..8 with the paper's folding configurations, TFC with "
        "power-of-two weights, CNV at 2/4/8 bits, and FINN's estimates for published "
        "designs; write RESULTS/reproduce/tables.md, CSVs, figures/ and report.html.",
    )
    repro.add_argument("--results-dir", default="results", help="default results")
    repro.add_argument("--dataset", default="digits", help="digits (default), mnist, "
                       "fashion_mnist or cifar10 (with --data-dir)")
    repro.add_argument("--data-dir", help="directory holding the data set files")
    repro.add_argument("--jobs", default="1", help="local worker processes (default 1)")
    repro.add_argument("--quick", action="store_true", help="TFC only at 2/4/8 bits "
                       "(power-of-two at 2/4), 5 epochs unless --tfc-epochs; all tables")
    repro.add_argument("--tfc-epochs", help="TFC training epochs (40; 5 with --quick)")
    repro.add_argument("--cnv-epochs", default="10", help="CNV training epochs (10)")
    repro.add_argument("--quiet", action="store_true", help="no progress output")

    collect = sub.add_parser(
        "collect", help="gather every run record into one table (CSV and Parquet)",
        description="Read every record under RESULTS/runs/ and write collected.csv and "
        "collected.parquet (one row per record, failed runs included).",
    )
    collect.add_argument("--results-dir", default="results",
                         help="results directory holding runs/ (default results)")
    collect.add_argument("--out", help="where the tables go (default: the results directory)")

    report = sub.add_parser(
        "report", help="tables, figures and a self-contained HTML report from the records",
        description="Collect every record, then write report.html, report.md, tables.tex "
        "and figures/*.png|pdf (see docs/report.md).",
    )
    report.add_argument("--results-dir", default="results",
                        help="results directory holding runs/ (default results)")
    report.add_argument("--out", help="output directory (default RESULTS/report)")
    report.add_argument("--board", help="board of the utilization table "
                        "(default: the board most runs used)")
    report.add_argument("--title", default="qnn-bench report", help="report title")
    return parser


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """Map command-line strings onto a validated RunSpec (pydantic does the coercion)."""
    bits = _blank_to_none(args.bits)
    if bits is not None and (_blank_to_none(args.wbits) or _blank_to_none(args.abits)):
        raise SpecError("give either --bits (BITS) or --wbits/--abits (WBITS/ABITS), not both")
    fields: dict[str, Any] = {
        "model": _blank_to_none(args.model),
        "dataset": _blank_to_none(args.dataset),
        "data_dir": _blank_to_none(args.data_dir),
        "weight_bits": _blank_to_none(args.wbits) or bits,
        "act_bits": _blank_to_none(args.abits) or bits,
        "weight_quant": _blank_to_none(args.quant),
        "pe": _blank_to_none(args.pe),
        "simd": _blank_to_none(args.simd),
        "epochs": _blank_to_none(args.epochs),
        "seed": _blank_to_none(args.seed),
        "board": _blank_to_none(args.board),
        "clk_ns": _blank_to_none(args.clk_ns),
        "target": _blank_to_none(args.target),
        "mvu": _blank_to_none(args.mvu),
        "fp32_baseline": args.fp32_baseline or None,
    }
    if fields["data_dir"] and not Path(fields["data_dir"]).expanduser().is_dir():
        raise SpecError(f"data_dir: {fields['data_dir']!r} is not a directory")
    spec = make_spec(**fields)
    _require_tools_for(spec.target)
    return spec


def _require_tools_for(target: str) -> None:
    """Refuse, before any work, a target this machine cannot build."""
    if target == "rtl":
        from bench.rtl import tools

        try:
            tools.require_tools(tools.TOOLS)
        except tools.RtlToolMissing as err:
            raise SpecError(f"target 'rtl' needs Yosys and Verilator: {err}") from None
        return
    _require_vivado_for(target)


def _require_vivado_for(target: str) -> None:
    from bench.finn_flow import steps_past_estimates, vivado_available

    if target == "estimate" or vivado_available():
        return
    extra = steps_past_estimates(target)
    raise SpecError(
        f"target {target!r} needs Vivado, and XILINX_VIVADO is not set; with Vivado the same "
        f"run continues past the estimates with FINN's {', '.join(extra)} and adds synth_* "
        "and fmax_mhz to the record"
    )


def writable_results_dir(value: str) -> Path:
    """The results directory, created if needed; refused before any work if unusable."""
    if not value or not value.strip():
        raise SpecError("--results-dir (RESULTS) must not be empty")
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise SpecError(f"--results-dir: {value!r} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SpecError(f"--results-dir: cannot create {value!r} ({err.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SpecError(f"--results-dir: {value!r} is not writable")
    return path


def _blank_to_none(value: str | None) -> str | None:
    # Make passes unset variables as empty strings.
    return value if value not in (None, "") else None


def cmd_run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    writable_results_dir(args.results_dir)
    from bench.core.progress import say
    from bench.report.console import print_run_summary
    from bench.run.point import UserError, run_point
    from bench.run.store import Store

    store = Store(args.results_dir)
    log = (lambda msg: None) if args.quiet else (lambda msg: say(f"[cyan]>[/] {msg}"))
    try:
        outcome = run_point(spec, store, log=log, show_progress=not args.quiet)
    except UserError as err:
        print(f"qnnbench: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print_run_summary(outcome)
    return EXIT_OK if outcome.record.status == "ok" else EXIT_FAILED


def _positive_int(value: str, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SpecError(f"{what} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise SpecError(f"{what} must be a positive integer, got {value!r}")
    return number


def cmd_sweep(args: argparse.Namespace) -> int:
    from bench.core.sweep_spec import load_sweep

    jobs = _positive_int(args.jobs, "--jobs")
    points = load_sweep(Path(args.spec))
    if any(p.target == "rtl" for p in points):
        _require_tools_for("rtl")
    writable_results_dir(args.results_dir)
    from bench.core.progress import say, sweep_progress
    from bench.run.executor import run_sweep

    say(f"sweep: {len(points)} points -> {args.results_dir}")
    with sweep_progress(len(points), enabled=not args.quiet) as on_event:
        tally = run_sweep(
            points, Path(args.results_dir), jobs=jobs, dask_scheduler=args.dask_scheduler,
            retry_failed=args.retry_failed, on_event=on_event, log=say,
        )
    say(
        f"done: {tally.ok} ran, {tally.cached} already finished, {tally.failed} failed"
        + (f", {tally.front_points} extra Pareto front points" if tally.front_points else "")
        + f"; records in {Path(args.results_dir) / 'runs'}"
    )
    for run_id in tally.failed_ids:
        say(f"[red]failed:[/] {run_id} (see its record; --retry-failed reruns it)")
    return EXIT_FAILED if tally.failed else EXIT_OK


def cmd_perf(args: argparse.Namespace) -> int:
    import json

    from bench.core.progress import say
    from bench.studies.perf import run_perf

    naive = _positive_int(args.naive_points, "--naive-points")
    repeats = _positive_int(args.repeats, "--repeats")
    say("perf: preparing TFC W2A2 (cached after the first run), then timing both paths")
    result = run_perf(Path(args.results_dir), naive_points=naive, repeats=repeats)
    say(
        f"incremental: {result['incremental_points_per_s']:,.1f} points/s "
        f"(median of {result['repeats_incremental']} passes over "
        f"{result['points_incremental']} foldings)\n"
        f"full FINN build per point: {result['naive_points_per_s']:.3f} points/s "
        f"(median of {result['points_naive']} builds, {result['median_naive_s']} s each)\n"
        f"speedup: {result['speedup']:,.0f}x; estimates identical: {result['identical']}"
    )
    if args.json:
        print(json.dumps(result))
    return EXIT_OK if result["identical"] else EXIT_FAILED


def cmd_reproduce(args: argparse.Namespace) -> int:
    import time

    from bench.stages.data import DATASETS

    if args.dataset not in DATASETS:
        raise SpecError(f"unknown dataset {args.dataset!r}; allowed: {', '.join(DATASETS)}")
    jobs = _positive_int(args.jobs, "--jobs")
    writable_results_dir(args.results_dir)
    from bench.core.errors import UserError
    from bench.core.progress import say, sweep_progress
    from bench.studies.reproduce import (
        QUICK_SUBSET,
        QUICK_TFC_EPOCHS,
        reproduction_points,
        run_reproduction,
    )

    subset = QUICK_SUBSET if args.quick else {}
    default_tfc_epochs = QUICK_TFC_EPOCHS if args.quick else 40
    tfc_epochs = _positive_int(args.tfc_epochs or str(default_tfc_epochs), "--tfc-epochs")
    cnv_epochs = _positive_int(args.cnv_epochs, "--cnv-epochs")
    total = len(reproduction_points(args.dataset, args.data_dir, tfc_epochs, cnv_epochs,
                                    **subset))
    start = time.perf_counter()
    try:
        with sweep_progress(total, enabled=not args.quiet) as on_event:
            paths, tally = run_reproduction(
                Path(args.results_dir), args.dataset, args.data_dir, jobs, tfc_epochs,
                cnv_epochs, on_event=on_event, log=say, **subset,
            )
    except UserError as err:
        print(f"qnnbench: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    minutes = (time.perf_counter() - start) / 60
    say(f"reproduction done in {minutes:.1f} min: {tally.ok} ran, {tally.cached} cached, "
        f"{tally.failed} failed (the paper's invalid foldings fail by design)")
    say(f"tables: {paths['tables']}\nreport: {paths['html']}")
    return EXIT_OK


def cmd_collect(args: argparse.Namespace) -> int:
    from bench.report.collect import collect, write_tables

    df = collect(args.results_dir)
    if df.empty:
        print(f"qnnbench: error: no records under {args.results_dir}/runs", file=sys.stderr)
        return EXIT_FAILED
    paths = write_tables(df, args.out or args.results_dir)
    n_ok = int((df["status"] == "ok").sum())
    print(f"collected {len(df)} records ({n_ok} ok, {len(df) - n_ok} failed)")
    for path in paths.values():
        print(f"  {path}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    if args.board:
        from bench.core.devices import get_board

        try:
            get_board(args.board)
        except ValueError as err:
            raise SpecError(f"board: {err}") from None
    from bench.report.collect import collect, write_tables
    from bench.report.write import write_report

    df = collect(args.results_dir)
    if df.empty:
        print(f"qnnbench: error: no records under {args.results_dir}/runs", file=sys.stderr)
        return EXIT_FAILED
    write_tables(df, args.results_dir)
    out = Path(args.out) if args.out else Path(args.results_dir) / "report"
    paths = write_report(df, out, title=args.title, board=args.board)
    print(f"report: {paths['html']}")
    print(f"tables: {paths['markdown']}, {paths['latex']}; figures: {out / 'figures'}")
    return EXIT_OK


COMMANDS = {
    "run": cmd_run, "sweep": cmd_sweep, "perf": cmd_perf, "collect": cmd_collect,
    "report": cmd_report, "reproduce": cmd_reproduce,
}


def main(argv: list[str] | None = None) -> int:
    # Brevitas and FINN warn about optional accelerators and deprecations on every import;
    # none of it is actionable for a user of this command.
    warnings.filterwarnings("ignore")
    interrupt.install()
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except SpecError as err:
        print(f"qnnbench: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qnnbench: interrupted; finished records are kept", file=sys.stderr)
        return interrupt.exit_code()


if __name__ == "__main__":
    sys.exit(main())
