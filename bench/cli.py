"""`qnnbench`: the command line.

Heavy libraries (torch, Brevitas, FINN) are imported only once work is needed, so input
errors and cached runs answer immediately. Whether this machine can run a point (tools,
Vivado, an importable model module) is asked of the plan's stages (`preflight`), not
checked here; every problem the user must fix is a `UserError`, printed by `main` only.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from bench.cli_parser import EXIT_USAGE, build_parser
from bench.core import interrupt
from bench.core.errors import NothingToReport, UserError
from bench.core.spec import DATASETS, RunSpec, SpecError, make_spec
from bench.core.warn import show_own_warnings
from bench.studies.schedule import (
    CNV_EPOCHS,
    FULL_CNV_EPOCHS,
    FULL_TFC_EPOCHS,
    QUICK_TFC_EPOCHS,
    SEEDS,
)

EXIT_OK, EXIT_FAILED = 0, 1
# `run` of a point whose folding cannot exist at its input geometry: no numbers, but no
# fault either (sweeps and the reproduction count such points apart and exit 0).
EXIT_NOT_APPLICABLE = 3


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
        "input_size": _blank_to_none(args.input_size),
        "seed": _blank_to_none(args.seed),
        "board": _blank_to_none(args.board),
        "clk_ns": _blank_to_none(args.clk_ns),
        "target": _blank_to_none(args.target),
        "mvu": _blank_to_none(args.mvu),
        "dsp": _blank_to_none(args.dsp),
        "impl": _blank_to_none(args.impl),
        "fp32_baseline": args.fp32_baseline or None,
        "qonnx": _blank_to_none(args.qonnx),
        "input_scale": _number(_blank_to_none(args.input_scale), "--input-scale"),
        "input_offset": _number(_blank_to_none(args.input_offset), "--input-offset"),
        "hw_accuracy_samples": _blank_to_none(args.hw_accuracy_samples),
        "train_device": _blank_to_none(args.device),
        "augment": {"yes": True, "no": False}.get(args.augment or ""),
    }
    if fields["data_dir"] and not Path(fields["data_dir"]).expanduser().is_dir():
        raise SpecError(f"data_dir: {fields['data_dir']!r} is not a directory")
    spec = make_spec(**fields)
    _preflight([spec])
    return spec


def _preflight(specs: list[RunSpec]) -> None:
    """Refuse, before any work, points this machine cannot run (asked of the stages)."""
    from bench.stages.plan import preflight

    for spec in specs:
        preflight(spec)


def _number(value: str | None, what: str) -> float | None:
    """A float from the command line, including fractions such as 1/255."""
    if value is None:
        return None
    try:
        if "/" in value:
            num, _, den = value.partition("/")
            return float(num) / float(den)
        return float(value)
    except (ValueError, ZeroDivisionError):
        raise SpecError(f"{what} must be a number (e.g. 0.5 or 1/255), got {value!r}") from None


def writable_results_dir(value: str, within: str = "") -> Path:
    """The results directory, created if needed; refused before any work if unusable.

    Records go to `runs/` and the stage cache to `cache/` (under `within`, if given): both
    are created and a file is written into and removed from each, so a symbolic link
    loop, a read-only or special filesystem (root passes every permission check, /proc
    or /sys still refuse files) or a full disk is reported now, not after training.
    """
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
    for sub in ("runs", "cache"):
        _check_writable(path / within / sub)
    return path


def _check_writable(directory: Path) -> None:
    """Create `directory` and write, then remove, a file in it; SpecError if it fails."""
    import tempfile

    if os.path.lexists(directory) and not directory.is_dir():
        what = "a symbolic link that leads to no directory" if directory.is_symlink() \
            else "not a directory"
        raise SpecError(f"--results-dir: {str(directory)!r} is {what}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".qnnbench-check-") as f:
            f.write(b"x")
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise SpecError(f"--results-dir: cannot write in {str(directory)!r} "
                        f"({err.strerror or err})") from None


def _blank_to_none(value: str | None) -> str | None:
    # Make passes unset variables as empty strings.
    return value if value not in (None, "") else None


def cmd_run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    writable_results_dir(args.results_dir)
    from bench.core.progress import say
    from bench.engine.store import Store
    from bench.report.console import print_run_summary
    from bench.run.point import run_point

    store = Store(args.results_dir)
    log = (lambda msg: None) if args.quiet else (lambda msg: say(f"[cyan]>[/] {msg}"))
    outcome = run_point(spec, store, log=log, show_progress=not args.quiet)
    print_run_summary(outcome)
    from bench.core.outcome import record_outcome

    kind = record_outcome(outcome.record)
    return {"ok": EXIT_OK, "not_applicable": EXIT_NOT_APPLICABLE}.get(kind, EXIT_FAILED)


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
    _preflight(points)
    writable_results_dir(args.results_dir)
    from bench.core.progress import say, sweep_progress
    from bench.run.executor import run_sweep

    say(f"sweep: {len(points)} points -> {args.results_dir}")
    with sweep_progress(len(points), enabled=not args.quiet) as on_event:
        tally = run_sweep(
            points, Path(args.results_dir), jobs=jobs, dask_scheduler=args.dask_scheduler,
            retry_failed=args.retry_failed, on_event=on_event, log=say,
        )
    not_applicable, failed = _split_failed(Path(args.results_dir), tally.failed_ids)
    say(
        f"done: {tally.ok} ran, {tally.cached} already finished, "
        f"{len(not_applicable)} not applicable, {len(failed)} failed"
        + (f", {tally.front_points} extra Pareto front points" if tally.front_points else "")
        + f"; records in {Path(args.results_dir) / 'runs'}"
    )
    for run_id in not_applicable:
        say(f"[yellow]not applicable:[/] {run_id} (folding invalid for this network)")
    for run_id in failed:
        say(f"[red]failed:[/] {run_id} (see its record; --retry-failed reruns it)")
    return EXIT_FAILED if failed else EXIT_OK


def _split_failed(results_dir: Path, run_ids: list[str]) -> tuple[list[str], list[str]]:
    """Unsuccessful runs as (not applicable by design, failed)."""
    from bench.core.outcome import record_outcome
    from bench.core.record import RecordError
    from bench.engine.store import Store

    store, not_applicable, failed = Store(results_dir), [], []
    for run_id in run_ids:
        try:
            record = store.load_record(run_id)
        except RecordError:  # replaced meanwhile by something that is not a record
            record = None
        kind = record_outcome(record) if record is not None else "failed"
        (not_applicable if kind == "not_applicable" else failed).append(run_id)
    return not_applicable, failed


def cmd_perf(args: argparse.Namespace) -> int:
    import json

    from bench.core.progress import say
    from bench.studies.perf import run_perf

    naive = _positive_int(args.naive_points, "--naive-points")
    repeats = _positive_int(args.repeats, "--repeats")
    writable_results_dir(args.results_dir)
    say("perf: preparing TFC W2A2 (cached after the first run), then timing both paths")
    result = run_perf(Path(args.results_dir), naive_points=naive, repeats=repeats)
    say(
        f"incremental: {result['incremental_points_per_s']:,.1f} points/s "
        f"(median of {result['repeats_incremental']} passes over "
        f"{result['points_incremental']} foldings)\n"
        f"full FINN build per point: {result['naive_points_per_s']:.3f} points/s "
        f"(median of {result['points_naive']} builds, {result['median_naive_s']} s each)\n"
        f"speedup: {result['speedup']:,.0f}x; estimates identical: {result['identical']}\n"
        f"default graph (RTL layers, calibrated costs): "
        f"{result['incremental_rtl_points_per_s']:,.1f} points/s, "
        f"{result['speedup_rtl']:,.0f}x a FINN build per point; first pass (every layer "
        f"folding priced anew): {result['incremental_rtl_first_pass_points_per_s']:,.1f} "
        f"points/s, {result['speedup_rtl_first_pass']:,.0f}x"
    )
    if args.json:
        print(json.dumps(result))
    return EXIT_OK if result["identical"] else EXIT_FAILED


def cmd_calibrate(args: argparse.Namespace) -> int:
    from bench.core.progress import say
    from bench.studies import calibrate

    if sum((args.check, args.refit, args.fronts)) > 1:
        raise SpecError("give one of --check, --refit, --fronts: --check grades the stored "
                        "models, --refit rebuilds them, --fronts compares search results")
    if args.fronts:
        from bench.core.devices import get_board
        from bench.studies.cost_fronts import format_fronts, run_fronts

        try:
            board = get_board(args.board).name
        except ValueError as err:
            raise SpecError(f"--board: {err}") from None
        writable_results_dir(args.results_dir)
        print(format_fronts(run_fronts(Path(args.results_dir), board), 0.85))
        return EXIT_OK
    if not (args.check or args.refit):
        from bench.studies.reproduce import free_cores

        jobs = free_cores() if args.jobs == "auto" else _positive_int(args.jobs, "--jobs")
        writable_results_dir(args.results_dir)
        measured = calibrate.measure(Path(args.results_dir), jobs, progress=not args.quiet)
        say(f"calibrate: {measured} configurations synthesized")
    if not args.check:
        calibrate.refit()
        say("calibrate: models written to bench/cost/calibration.json")
    table = calibrate.check_table()
    print(calibrate.format_table(table))
    return EXIT_OK


def cmd_reproduce(args: argparse.Namespace) -> int:
    import time

    if args.dataset not in DATASETS:
        raise SpecError(f"unknown dataset {args.dataset!r}; allowed: {', '.join(DATASETS)}")
    if args.quick and args.full:
        raise SpecError("give either --quick (QUICK=1) or --full (FULL=1), not both")
    jobs = None if args.jobs == "auto" else _positive_int(args.jobs, "--jobs")
    seeds = _seeds(args.seeds) if _blank_to_none(args.seeds) else None
    if args.data_dir and not Path(args.data_dir).expanduser().is_dir():
        raise SpecError(f"--data-dir: {args.data_dir!r} is not a directory")
    default_tfc = QUICK_TFC_EPOCHS if args.quick else FULL_TFC_EPOCHS
    default_cnv = FULL_CNV_EPOCHS if args.full else CNV_EPOCHS
    tfc_epochs = _positive_int(args.tfc_epochs or str(default_tfc), "--tfc-epochs")
    cnv_epochs = _positive_int(args.cnv_epochs or str(default_cnv), "--cnv-epochs")
    writable_results_dir(args.results_dir, within="reproduce")
    from bench.core.progress import say, sweep_progress
    from bench.studies.reproduce import (
        QUICK_SUBSET,
        free_cores,
        reproduction_points,
        run_reproduction,
        split_applicable,
    )

    subset: dict[str, Any] = dict(QUICK_SUBSET) if args.quick else {}
    if seeds is not None:
        subset["seeds"] = seeds
    if args.pot_hardware or args.full:
        from bench.studies.pot_hardware import POT_HW_BITS

        subset["pot_hw_bits"] = POT_HW_BITS
        subset["pot_hw_target"] = args.pot_hardware or "rtl"
    if jobs is None:
        jobs = free_cores()
    points = reproduction_points(args.dataset, args.data_dir, tfc_epochs, cnv_epochs, **subset)
    _preflight(points)  # e.g. the measured PoT points need Yosys and Verilator
    total = len(split_applicable(points)[0])
    say(f"reproduce on {args.dataset}: TFC {tfc_epochs} epochs, seeds "
        f"{','.join(map(str, subset.get('seeds', SEEDS)))}; CNV {cnv_epochs} epochs; "
        f"{jobs} worker(s)")
    start = time.perf_counter()
    with sweep_progress(total, enabled=not args.quiet) as on_event:
        paths, tally, outcomes = run_reproduction(
            Path(args.results_dir), args.dataset, args.data_dir, jobs, tfc_epochs,
            cnv_epochs, on_event=on_event, log=say, **subset,
        )
    minutes = (time.perf_counter() - start) / 60
    say(f"reproduction done in {minutes:.1f} min: {outcomes.ok} ok ({tally.cached} of the "
        f"points run were cached), {outcomes.not_applicable} not applicable (foldings "
        f"invalid at their input geometry, by design), {outcomes.failed} failed")
    for run_id in outcomes.failed_ids:
        say(f"[red]failed:[/] {run_id} (see its record)")
    say(f"tables: {paths['tables']}\nreport: {paths['html']}")
    return EXIT_FAILED if outcomes.failed else EXIT_OK


def cmd_budget(args: argparse.Namespace) -> int:
    """The fastest design that fits each board, per weight format (int vs PoT)."""
    import dataclasses

    from bench.core.devices import get_board
    from bench.studies.pot_budget import BudgetStudy

    jobs = None if args.jobs == "auto" else _positive_int(args.jobs, "--jobs")
    limit = _number(args.limit, "--limit")
    if limit is not None and not 0 < limit <= 1:
        raise SpecError(f"--limit must be a fraction in (0, 1], got {args.limit!r}")
    overrides: dict[str, Any] = {"verify": not args.no_verify}
    if limit is not None:
        overrides["limit"] = limit
    if _blank_to_none(args.seeds):
        overrides["seeds"] = _seeds(args.seeds)
    study = (BudgetStudy.quick if args.quick else BudgetStudy.full)(**overrides)
    if _blank_to_none(args.boards):
        try:
            boards = [get_board(b.strip()).name for b in args.boards.split(",")]
        except ValueError as err:
            raise SpecError(f"--boards: {err}") from None
        networks = {b: study.networks.get(b, ("sfc",)) for b in boards}
        study = dataclasses.replace(study, networks=networks)
    writable_results_dir(args.results_dir, within="pot_budget")
    from bench.core.progress import say, sweep_progress
    from bench.studies.pot_budget import budget_points, run_budget_study
    from bench.studies.pot_budget_table import write_outputs
    from bench.studies.reproduce import free_cores

    points = budget_points(study)
    _preflight(points)
    jobs = jobs or free_cores()
    with sweep_progress(len(points), enabled=not args.quiet) as on_event:
        records, tally = run_budget_study(Path(args.results_dir), study, jobs,
                                          on_event=on_event, log=say)
    paths = write_outputs(records, study, Path(args.results_dir) / "pot_budget")
    say(f"pot budget: {tally.ok} ok, {tally.failed} failed ({tally.cached} cached)")
    print(paths["markdown"].read_text())
    say(f"table: {paths['csv']}\nreport: {paths['html']}")
    return EXIT_FAILED if tally.failed else EXIT_OK


def _seeds(value: str) -> tuple[int, ...]:
    """`--seeds 0,1,2` (SEEDS=0,1,2): distinct seeds, each a valid RunSpec seed."""
    from bench.core.spec import MAX_SEED

    seeds = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) > MAX_SEED:
            raise SpecError(f"--seeds must be integers in 0..{MAX_SEED} separated by commas, "
                            f"got {value!r}")
        if int(part) not in seeds:
            seeds.append(int(part))
    return tuple(seeds)


def _collect_reporting_bad_files(results_dir: str) -> Any:
    """The collected DataFrame; every record file left out is listed with its reason."""
    from bench.report.collect import bad_record_files, collect

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = collect(results_dir)
    bad = bad_record_files(results_dir)
    if bad:
        print(f"qnnbench: {len(bad)} record file(s) left out (not valid records):",
              file=sys.stderr)
        for problem in bad:
            print(f"  {problem}", file=sys.stderr)
    return df


def cmd_collect(args: argparse.Namespace) -> int:
    from bench.report.collect import write_tables

    df = _collect_reporting_bad_files(args.results_dir)
    if df.empty:
        raise NothingToReport(f"no records under {args.results_dir}/runs")
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
    from bench.report.collect import write_tables
    from bench.report.write import write_report

    df = _collect_reporting_bad_files(args.results_dir)
    if df.empty:
        raise NothingToReport(f"no records under {args.results_dir}/runs")
    write_tables(df, args.results_dir)
    out = Path(args.out) if args.out else Path(args.results_dir) / "report"
    paths = write_report(df, out, title=args.title, board=args.board)
    print(f"report: {paths['html']}")
    print(f"tables: {paths['markdown']}, {paths['latex']}; figures: {out / 'figures'}")
    return EXIT_OK


COMMANDS = {
    "run": cmd_run, "sweep": cmd_sweep, "perf": cmd_perf, "collect": cmd_collect,
    "report": cmd_report, "reproduce": cmd_reproduce, "calibrate": cmd_calibrate,
    "budget": cmd_budget,
}


def main(argv: list[str] | None = None) -> int:
    # Libraries' warnings are silenced, qnn-bench's own shown as one line (bench.core.warn).
    with warnings.catch_warnings():
        show_own_warnings()
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    interrupt.install()
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            # the hardware accuracy of a large test set may use one process per core;
            # sweep workers run serially inside (their points are the parallelism)
            from bench.stages.hw_graph import allow_worker_processes

            allow_worker_processes()
        return COMMANDS[args.command](args)
    except UserError as err:  # the one place a user error is printed
        print(f"qnnbench: error: {err}", file=sys.stderr)
        return EXIT_FAILED if isinstance(err, NothingToReport) else EXIT_USAGE
    except KeyboardInterrupt:
        print("qnnbench: interrupted; finished records are kept", file=sys.stderr)
        return interrupt.exit_code()


if __name__ == "__main__":
    sys.exit(main())
