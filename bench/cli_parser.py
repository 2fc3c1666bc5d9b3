"""The `qnnbench` argument parser: every command, option and help text in one place."""

from __future__ import annotations

import argparse
from typing import NoReturn

from bench.core.errors import SpecError
from bench.core.spec import DEFAULTS
from bench.studies.schedule import (
    CNV_EPOCHS,
    FULL_CNV_EPOCHS,
    FULL_TFC_EPOCHS,
    SEEDS,
)

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is a `SpecError`: `bench.cli.main` prints it in one
    line like every other user error and exits with the usage code."""

    def error(self, message: str) -> NoReturn:
        raise SpecError(message)


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
    run.add_argument("--model", help=f"model name (default {DEFAULTS['model']}), or an "
                     "external Brevitas module as package.module:factory")
    run.add_argument("--qonnx", help="an external QONNX file to benchmark (no training; bit "
                     "widths are read from the graph)")
    run.add_argument("--dataset", help=f"data set (default {DEFAULTS['dataset']}); npz (with "
                     "--data-dir); none: hardware only, for --qonnx")
    run.add_argument("--input-scale", help="for --qonnx: model input = data * scale + offset "
                     "(default: 1 for an integer input, 1/255 for pixels into a float one, "
                     "the input quantizer's scale for int8 features or no data)")
    run.add_argument("--input-offset", help="see --input-scale (default 0)")
    run.add_argument("--hw-accuracy-samples", help="test samples for hw_accuracy (default: "
                     "the whole test set; 0 skips it)")
    run.add_argument("--device", help="training device: auto (default; CUDA when "
                     "available), cpu or cuda")
    run.add_argument("--augment", choices=("yes", "no"), help="training augmentation "
                     "(random crop and flip; default yes for cifar10, no otherwise)")
    run.add_argument("--data-dir", help="directory holding the data set files")
    run.add_argument("--bits", help="weight and activation bits, 1..8")
    run.add_argument("--wbits", help=f"weight bits (default {DEFAULTS['weight_bits']})")
    run.add_argument("--abits", help=f"activation bits (default {DEFAULTS['act_bits']})")
    run.add_argument("--quant", help="weight quantizer (default int)")
    run.add_argument("--pe", help=f"requested PE for every layer (default {DEFAULTS['pe']})")
    run.add_argument("--simd", help="requested SIMD for every layer (default: same as PE)")
    run.add_argument("--input-size", help="MLPs: zero-pad images to N x N before the "
                     "network, e.g. 32 gives TFC 1,024 inputs on 28x28 MNIST (default: as "
                     "stored)")
    run.add_argument("--epochs", help=f"training epochs (default {DEFAULTS['epochs']})")
    run.add_argument("--seed", help="random seed (default 0)")
    run.add_argument("--board", help=f"target board (default {DEFAULTS['board']})")
    run.add_argument("--clk-ns", help="clock period in ns (default 10.0 = 100 MHz)")
    run.add_argument("--target", help="estimate (default); rtl: measure the RTL layers with "
                     "Yosys and Verilator; route: also place and route them on ECP5 "
                     "(nextpnr); with Vivado: synth, bitfile")
    run.add_argument("--mvu", help="matrix-vector layers: finn (default, FINN's MVAU); rtl: "
                     "our units where they compute the same: the matrix-vector unit (int/PoT "
                     "datapaths) and the max pooling unit (CNNs then stitch with --target rtl)")
    run.add_argument("--dsp", help="measured hardware (--target rtl) and our unit's "
                     "estimate (--mvu rtl): auto (default) puts the multipliers Yosys infers "
                     "into DSP slices; off maps them to LUTs (synth_xilinx -nodsp)")
    run.add_argument("--impl", help="FINN's layers: rtl (default) RTL wherever FINN has "
                     "them, costs calibrated on Yosys; hls: FINN's own choice (mostly HLS)")
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

    calibrate = sub.add_parser(
        "calibrate", help="synthesize the calibration corpus and fit the layer cost models",
        description="Synthesize every configuration of the calibration corpus not yet "
        "measured (bench/cost/corpus.json, resumable), fit one cost model per layer type "
        "(bench/cost/calibration.json) and print its errors on held-out configurations.",
    )
    calibrate.add_argument("--check", action="store_true", help="only grade the stored "
                           "models on the stored held-out rows; synthesize nothing")
    calibrate.add_argument("--refit", action="store_true", help="refit the stored rows; "
                           "synthesize nothing")
    calibrate.add_argument("--fronts", action="store_true", help="compare the folding "
                           "search's Pareto fronts priced by FINN and by the calibration "
                           "(TFC and SFC at MNIST size); synthesize nothing")
    calibrate.add_argument("--board", default="Pynq-Z1", help="board of --fronts "
                           "(default Pynq-Z1)")
    calibrate.add_argument("--jobs", default="auto", help="Yosys runs at once (default "
                           "auto: the cores not busy with other work)")
    calibrate.add_argument("--results-dir", default="results", help="work and cache "
                           "location (default results)")
    calibrate.add_argument("--quiet", action="store_true", help="no progress output")

    budget = sub.add_parser(
        "budget", help="int vs power-of-two: the fastest design that fits each board",
        description="For each board, network and weight format (int 2..8 in three "
        "designs, PoT 2..5), search the fastest per-layer folding within --limit of the "
        "board (calibrated costs), build every winner with Yosys and Verilator, train "
        "each format at several seeds; write RESULTS/pot_budget/pot_budget.csv, the "
        "PoT/int ratios, tables and a figure.",
    )
    budget.add_argument("--quick", action="store_true", help="Pynq-Z1, TFC, int and PoT at "
                        "2 and 4 bits, two seeds, few epochs")
    budget.add_argument("--no-verify", action="store_true", help="search only: do not build "
                        "the winners (their measured columns stay empty)")
    budget.add_argument("--boards", help="comma-separated boards (default Pynq-Z1,ZCU102)")
    budget.add_argument("--limit", help="share of every resource a design may use "
                        "(default 0.85)")
    budget.add_argument("--seeds", help="training seeds, comma-separated (default 0,1,2; "
                        "the first seed's models are built)")
    budget.add_argument("--jobs", default="auto", help="local worker processes (default "
                        "auto: the cores not busy with other work)")
    budget.add_argument("--results-dir", default="results", help="default results")
    budget.add_argument("--quiet", action="store_true", help="no progress output")

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
    repro.add_argument("--jobs", default="auto", help="local worker processes (default "
                       "auto: the cores not busy with other work)")
    repro.add_argument("--quick", action="store_true", help="TFC only at 2/4/8 bits "
                       "(power-of-two at 2/4), one seed, 5 epochs unless --tfc-epochs; "
                       "all tables")
    repro.add_argument("--full", action="store_true", help="the paper's complete schedule: "
                       f"TFC {FULL_TFC_EPOCHS} and CNV {FULL_CNV_EPOCHS} epochs")
    repro.add_argument("--pot-hardware", nargs="?", const="rtl", choices=("rtl", "route"),
                       help="also measure integer vs power-of-two TFC in hardware with our "
                       "unit (Yosys, Verilator) at 2..5 bits, paper foldings b and d (on with "
                       "--full); `route` also places and routes them on ECP5 (routed Fmax)")
    repro.add_argument("--seeds", help="TFC training seeds, comma-separated (default "
                       f"{','.join(map(str, SEEDS))}; 0 with --quick)")
    repro.add_argument("--tfc-epochs", help=f"TFC training epochs ({FULL_TFC_EPOCHS}; 5 with "
                       "--quick)")
    repro.add_argument("--cnv-epochs", help=f"CNV training epochs ({CNV_EPOCHS}; "
                       f"{FULL_CNV_EPOCHS} with --full)")
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


