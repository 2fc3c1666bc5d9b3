"""`make reproduce`: the seed paper's study, on the real toolchain.

Ducasse et al. (2021) trained TFC at W=A in 2..8 bits, built it with FINN under several
folding configurations on a Pynq-Z1 at 100 MHz, and reported equal accuracy at low
precision and up to 62x throughput from folding (FINN's cycle model gives 64x for those
configurations). This module runs the same study as one sweep, plus CNV at 2/4/8 bits,
integer vs power-of-two weights, and FINN's estimates for published designs next to their
on-board measurements, then writes tables, figures and the HTML report.

Each paper folding runs on the input geometry it was written for: (a)-(d) and (f) on
images zero-padded to 32x32 (1,024 inputs, as the paper's code fed MNIST to TFC), (e) on
the data set's own images (784 inputs on MNIST). A folding that cannot exist at that
geometry is *not applicable*: it is checked by arithmetic before anything is trained and
counted apart from failures. TFC trains at several seeds so the accuracy table can say
which differences are larger than seed noise; hardware tables use seed 0.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.core.spec import FOLDINGS_DIR, LayersFolding, RunSpec, make_spec, stable_hash
from bench.report.table import Table
from bench.run.executor import Tally, group_points, run_sweep
from bench.run.outcome import record_outcome
from bench.run.record import Record
from bench.run.store import Store
from bench.stages.dataset import STORED_SHAPES
from bench.studies.schedule import CNV_EPOCHS, FULL_TFC_EPOCHS, SEEDS

CONFIGS = FOLDINGS_DIR
PAPER_FOLDINGS = ("a", "b", "c", "d", "e", "f")
# The frame each folding was written for: 32 = images zero-padded to 32x32 (1,024 inputs
# for one channel); None = the data set's own images ((e) is FINN's 784-input folding).
PAPER_INPUT_SIZE: dict[str, int | None] = {
    "a": 32, "b": 32, "c": 32, "d": 32, "e": None, "f": 32,
}
TFC_BITS = (2, 3, 4, 5, 6, 7, 8)
POT_BITS = (2, 3, 4)
CNV_BITS = (2, 4, 8)
HARDWARE_SEED = 0  # the seed whose builds the hardware tables show
PAPER_SPAN = 62  # measured on the board
PAPER_CYCLE_SPAN = 64  # (c) vs (a): 4,096 vs 64 cycles per image in FINN's cycle model
TFC_HIDDEN, TFC_CLASSES = 64, 10
# CNV trains at full width for CNV_EPOCHS by default (see schedule.py); FINN's published
# CNV folding needs 3-channel input, so elsewhere it gets a uniform folding.
CNV_UNIFORM = {"strategy": "uniform", "pe": 16, "simd": 16}
# `reproduce --quick`: TFC only at fewer bit widths and epochs, one seed; every table is
# still written.
QUICK_SUBSET = {"tfc_bits": (2, 4, 8), "pot_bits": (2, 4), "cnv_bits": (), "seeds": (0,)}


def paper_folding(name: str) -> dict[str, str]:
    return {"strategy": "layers", "file": str(CONFIGS / f"tfc_paper_{name}.json")}


def reproduction_points(
    dataset: str = "digits", data_dir: str | None = None, tfc_epochs: int = FULL_TFC_EPOCHS,
    cnv_epochs: int = CNV_EPOCHS, tfc_bits: tuple[int, ...] = TFC_BITS,
    pot_bits: tuple[int, ...] = POT_BITS, cnv_bits: tuple[int, ...] = CNV_BITS,
    seeds: tuple[int, ...] = SEEDS,
) -> list[RunSpec]:
    """Every point of the study, not-applicable ones included (see `split_applicable`).

    CNV comes first so that, with several workers, the longest groups start first.
    Seeds other than the hardware seed train TFC once per bit width (folding (a) at the
    1,024-input geometry): their accuracy is what they are for.
    """
    common = {"dataset": dataset, "data_dir": data_dir, "board": "Pynq-Z1", "clk_ns": 10.0}
    points = []
    cnv_folding: dict[str, Any] = CNV_UNIFORM
    if dataset == "cifar10":
        cnv_folding = {"strategy": "layers", "file": str(CONFIGS / "cnv_finn_w1a1.json")}
    for bits in cnv_bits:
        points.append(make_spec(model="cnv", weight_bits=bits, act_bits=bits,
                                epochs=cnv_epochs, folding=cnv_folding, fp32_baseline=True,
                                **common))
    hardware_seed = seeds[0] if HARDWARE_SEED not in seeds else HARDWARE_SEED
    for seed in (hardware_seed, *[s for s in seeds if s != hardware_seed]):
        names = PAPER_FOLDINGS if seed == hardware_seed else ("a",)
        for bits in tfc_bits:
            for name in names:
                points.append(make_spec(
                    model="tfc", weight_bits=bits, act_bits=bits, epochs=tfc_epochs,
                    folding=paper_folding(name), input_size=PAPER_INPUT_SIZE[name],
                    seed=seed, fp32_baseline=True, **common,
                ))
        for bits in pot_bits:
            points.append(make_spec(
                model="tfc", weight_bits=bits, act_bits=bits, weight_quant="pot",
                epochs=tfc_epochs, folding=paper_folding("a"), input_size=PAPER_INPUT_SIZE["a"],
                seed=seed, **common,
            ))
    return points


def tfc_inputs(dataset: str, input_size: int | None) -> int:
    """How many inputs TFC's first layer has for this data set and frame."""
    channels, height, width = STORED_SHAPES[dataset]
    if input_size is not None:
        height = width = max(input_size, height)
    return channels * height * width


def geometry_text(dataset: str, input_size: int | None) -> str:
    """E.g. '32×32 (1,024)' or '3×32×32 (3,072)': the frame and the input count."""
    channels, height, width = STORED_SHAPES[dataset]
    if input_size is not None:
        height = width = max(input_size, height)
    frame = f"{height}×{width}" if channels == 1 else f"{channels}×{height}×{width}"
    return f"{frame} ({channels * height * width:,})"


def not_applicable_reason(spec: RunSpec) -> str | None:
    """Why a TFC layers folding cannot exist at the spec's input geometry, or None.

    The same check the fold stage makes on the built graph (`layers_folding`), on TFC's
    known layer dimensions, so nothing is trained for a point that cannot be folded.
    """
    from bench.stages.folding import FoldingError, Layer, layers_folding

    if spec.model != "tfc" or not isinstance(spec.folding, LayersFolding):
        return None
    dims = [(tfc_inputs(spec.dataset, spec.input_size), TFC_HIDDEN),
            (TFC_HIDDEN, TFC_HIDDEN), (TFC_HIDDEN, TFC_HIDDEN), (TFC_HIDDEN, TFC_CLASSES)]
    layers = [Layer(f"MVAU_hls_{i}", "MVAU_hls", pe_dim=out, simd_dim=inp)
              for i, (inp, out) in enumerate(dims)]
    try:
        layers_folding(layers, spec.folding.config)
    except FoldingError as err:
        return f"FoldingError: {err}"
    return None


def split_applicable(points: list[RunSpec]) -> tuple[list[RunSpec], list[tuple[RunSpec, str]]]:
    """Points to run, and not-applicable points nothing needs to be trained for.

    A not-applicable point that shares its trained model with runnable points still runs
    (the fold stage rejects it in milliseconds and its record says so); one whose whole
    group is not applicable (folding (e) on a 1,024- or 64-input TFC) is recorded
    without training a model nobody can fold.
    """
    run, skip = [], []
    for group in group_points(points):
        reasons = [not_applicable_reason(p) for p in group]
        if all(reasons):
            skip += [(p, r) for p, r in zip(group, reasons, strict=True) if r]
        else:
            run += group
    return run, skip


def baseline_phases(points: list[RunSpec]) -> list[list[RunSpec]]:
    """The points in two phases: first one group per FP32 baseline, then the rest.

    Groups that share a baseline would otherwise each train it when they run at the same
    time in different workers; after the first phase every baseline is cached.
    """
    first, rest, owned = [], [], set()
    for group in group_points(points):
        key = stable_hash(group[0].baseline_fields()) if group[0].fp32_baseline else None
        if key is not None and key not in owned:
            owned.add(key)
            first += group
        else:
            rest += group
    return [phase for phase in (first, rest) if phase]


def not_applicable_record(spec: RunSpec, reason: str) -> Record:
    from bench.run.point import identity

    return Record(**{
        **identity(spec), "status": "failed", "error": reason[:500], "failed_stage": "fold",
        "failed_step": "geometry check before training",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })


@dataclass
class Outcomes:
    """The study's points by outcome (not-applicable ones are not failures)."""

    ok: int = 0
    not_applicable: int = 0
    failed: int = 0
    failed_ids: tuple[str, ...] = ()


@contextmanager
def _threads_per_worker(jobs: int) -> Iterator[None]:
    """Give each worker its share of the free cores, not one thread per core each.

    PyTorch starts one thread per core; with other work on the machine (or several
    workers) its threads wait on each other and training runs several times slower
    than on one thread. Spawned workers read OMP_NUM_THREADS when torch starts; a serial
    run sets this process's thread count. A value the user set wins.
    """
    if "OMP_NUM_THREADS" in os.environ:
        yield
        return
    threads = max(1, free_cores() // max(1, jobs))
    if jobs > 1:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        try:
            yield
        finally:
            del os.environ["OMP_NUM_THREADS"]
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def free_cores() -> int:
    """Cores not busy with other work (1-minute load average), at least 1."""
    cores = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except OSError:
        busy = 0
    return max(1, min(cores, cores - busy))


def run_reproduction(
    results_dir: Path, dataset: str = "digits", data_dir: str | None = None, jobs: int = 1,
    tfc_epochs: int = FULL_TFC_EPOCHS, cnv_epochs: int = CNV_EPOCHS,
    on_event: Callable[[dict[str, Any], Tally], None] = lambda event, tally: None,
    log: Callable[[str], None] = lambda msg: None,
    **subset: Any,
) -> tuple[dict[str, Path], Tally, Outcomes]:
    """Run (or resume) the reproduction sweep and write RESULTS/reproduce/*.

    `subset` (tfc_bits=, pot_bits=, cnv_bits=, seeds=) narrows the study, for tests.
    """
    from bench.report.collect import collect, write_tables
    from bench.report.write import write_report
    from bench.studies.published import validation_rows

    out = Path(results_dir) / "reproduce"
    points = reproduction_points(dataset, data_dir, tfc_epochs, cnv_epochs, **subset)
    runnable, skipped = split_applicable(points)
    log(f"reproduce: {len(points)} run points on {dataset} -> {out} ({len(skipped)} not "
        "applicable at their input geometry, recorded without training)")
    store = Store(out)
    for spec, reason in skipped:
        store.write_record(not_applicable_record(spec, reason))
    # Failed points are retried: not-applicable foldings are rejected again in
    # milliseconds (everything before folding is cached), anything else gets another chance.
    tally = Tally(total=len(runnable))

    def count(event: dict[str, Any], _: Tally) -> None:
        tally.add(event)
        on_event(event, tally)

    with _threads_per_worker(jobs):
        for phase in baseline_phases(runnable):
            run_sweep(phase, out, jobs=jobs, retry_failed=True, on_event=count, log=log)
    wanted = {p.run_id() for p in points}
    records = [r.model_dump() for r in store.iter_records() if r.run_id in wanted]
    outcomes = _outcomes(records)
    log("estimating published designs for the validation table")
    validation = validation_rows(Store(out))
    tables = reproduction_tables(records, validation)
    df = collect(out)
    paths = write_tables(df, out)
    paths.update(write_report(
        df, out, title=f"Reproduction: FINN + Brevitas at 2-8 bits ({dataset})",
        board="Pynq-Z1", extra_tables=tables,
    ))
    paths["tables"] = out / "tables.md"
    paths["tables"].write_text(tables_markdown(tables))
    for table in tables:
        csv = out / f"{table.key}.csv"
        csv.write_text(_table_csv(table))
        paths[f"{table.key}_csv"] = csv
    return paths, tally, outcomes


def _outcomes(records: list[dict[str, Any]]) -> Outcomes:
    kinds = [(r["run_id"], record_outcome(r)) for r in records]
    return Outcomes(
        ok=sum(k == "ok" for _, k in kinds),
        not_applicable=sum(k == "not_applicable" for _, k in kinds),
        failed=sum(k == "failed" for _, k in kinds),
        failed_ids=tuple(i for i, k in kinds if k == "failed"),
    )


# -- tables ---------------------------------------------------------------------------------


def _ok(records: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [
        r for r in records
        if r.get("status") == "ok" and all(r.get(k) == v for k, v in match.items())
    ]


def _paper_name(record: dict[str, Any]) -> str | None:
    spec = record.get("folding_spec") or {}
    stem = Path(str(spec.get("file", ""))).stem
    label = record.get("folding_id") or ""
    if not stem and label.startswith("layers-"):
        stem = label.removeprefix("layers-")
    return stem.removeprefix("tfc_paper_") if stem.startswith("tfc_paper_") else None


def _hardware_seed(records: list[dict[str, Any]]) -> int:
    seeds = {r.get("seed", 0) for r in records if r.get("model") == "tfc"}
    return HARDWARE_SEED if HARDWARE_SEED in seeds or not seeds else min(seeds)


def _geometry(record: dict[str, Any]) -> str:
    dataset = record.get("dataset")
    if dataset not in STORED_SHAPES:
        return ""
    return geometry_text(dataset, record.get("input_size"))


def _mean_std(values: list[float]) -> str:
    """Percent, with the sample standard deviation when there are several seeds."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def _per_seed(rows: list[dict[str, Any]], field: str) -> list[float]:
    """One value per seed (the points of one seed share a trained model)."""
    by_seed: dict[int, float] = {}
    for r in rows:
        if r.get(field) is not None:
            by_seed.setdefault(int(r.get("seed") or 0), float(r[field]))
    return [by_seed[k] for k in sorted(by_seed)]


def paper_folding_table(records: list[dict[str, Any]]) -> Table:
    rows, starts = [], []
    seed = _hardware_seed(records)
    for bits in TFC_BITS:
        first = True
        for name in PAPER_FOLDINGS:
            matches = [
                r for r in records
                if r.get("model") == "tfc" and r.get("weight_quant") == "int"
                and r.get("weight_bits") == bits and _paper_name(r) == name
                and r.get("seed", 0) == seed
            ]
            if not matches:
                continue
            if first:
                starts.append(len(rows))
            r = next((m for m in matches if m.get("status") == "ok"), matches[0])
            head = [f"W{bits}A{bits}" if first else "", name, _geometry(r)]
            first = False
            if r["status"] != "ok":
                kind = "n/a" if record_outcome(r) == "not_applicable" else "failed"
                rows.append([*head, kind, "", "", "", "", "", _reason(r)])
                continue
            rows.append([
                *head, f"{r['est_fps']:,.0f}", f"{r['est_latency_ns'] / 1000:,.2f}",
                f"{r['est_max_cycles']:,}", f"{r['lut']:,.0f}", f"{r['bram18']:,.0f}",
                f"{r['dsp']:,.0f}", "yes" if r["fits"] else "no (over budget)",
            ])
    return Table(
        key="paper_foldings",
        title="TFC with the paper's folding configurations (Pynq-Z1, 100 MHz, FINN estimates)",
        header=["W/A", "folding", "input (inputs)", "FPS", "latency (µs)", "cycles", "LUT",
                "BRAM18", "DSP", "fits / why not"],
        rows=rows, align=list("lllrrrrrrl"), group_starts=starts,
        note="Foldings tfc_paper_*.json (shipped with qnn-bench), each at the input geometry "
        "it was written for: (a)-(d) and (f) on images zero-padded to 32×32, (e) on the data "
        "set's own images ((e) is FINN's folding for 784 = 28×28 inputs). n/a = not "
        "applicable: the folding does not divide the layer's dimensions at that geometry "
        "((f)'s PE 8 never divides the 10 outputs), checked before FINN runs; not a "
        f"failure. Seed {seed}. {seed_dependence_note(records)}".strip(),
    )


def _reason(record: dict[str, Any]) -> str:
    """The error without its type and the list of valid values: 'layer X: SIMD=49 ...'."""
    text = str(record.get("error", "")).split(": ", 1)[-1].split("; valid ")[0]
    return text if len(text) <= 90 else text[:87] + "..."


def seed_dependence_note(records: list[dict[str, Any]]) -> str:
    """Whether FINN's estimates for folding (a) differ between seeds of the same bits.

    The cycle model depends on the folding only; LUT/BRAM estimates can depend on the
    trained weights through FINN's bit-width minimization (accumulators, thresholds).
    """
    differ = []
    compared = False
    for bits in TFC_BITS:
        builds = [r for r in _ok(records, model="tfc", weight_quant="int", weight_bits=bits)
                  if _paper_name(r) == "a" and r.get("input_size") == PAPER_INPUT_SIZE["a"]]
        if len({r.get("seed") for r in builds}) < 2:
            continue
        compared = True
        for key, label in (("est_max_cycles", "cycles"), ("lut", "LUT"),
                           ("bram18", "BRAM18"), ("dsp", "DSP")):
            values = sorted({round(float(r[key]), 1) for r in builds})
            if len(values) > 1:
                differ.append(f"W{bits}A{bits} {label} {values[0]:,.0f}–{values[-1]:,.0f}")
    if not compared:
        return ""
    if not differ:
        return "Folding (a) was built for every seed: FINN's estimates are identical."
    return ("Folding (a) was built for every seed; FINN's estimates differ with the trained "
            "weights (its bit-width minimization) at " + "; ".join(differ) + ".")


def span_table(records: list[dict[str, Any]]) -> Table:
    rows = []
    seed = _hardware_seed(records)
    for bits in TFC_BITS:
        ok = {_paper_name(r): r for r in _ok(records, model="tfc", weight_quant="int",
                                              weight_bits=bits, seed=seed)
              if _paper_name(r)}
        if len(ok) < 2:
            continue
        fast, slow = ok.get("a"), ok.get("c")
        paper_span = f"{fast['est_fps'] / slow['est_fps']:,.0f}×" if fast and slow else "–"
        slowest = min(ok.values(), key=lambda r: r["est_fps"])
        fastest = max(ok.values(), key=lambda r: r["est_fps"])
        rows.append([
            f"W{bits}A{bits}",
            f"{fast['est_fps']:,.0f}" if fast else "–",
            f"{slow['est_fps']:,.0f}" if slow else "–",
            paper_span,
            f"{_paper_name(slowest)}: {slowest['est_fps']:,.0f}",
            f"{fastest['est_fps'] / slowest['est_fps']:,.0f}×",
            f"{PAPER_SPAN}× measured, {PAPER_CYCLE_SPAN}× cycle model",
        ])
    return Table(
        key="folding_span", title="Throughput span across the paper's foldings",
        header=["W/A", "a (FPS)", "c (FPS)", "span a / c", "slowest valid (FPS)",
                "full range", "paper (a vs c)"],
        rows=rows, align=list("lrrrrrl"),
        note="The paper's span compares its fastest folding (a, 64 cycles per image on 1,024 "
        "inputs) with (c) (4,096 cycles: the 64×64 hidden layers fully folded). At 1,024 "
        "inputs (d)'s first layer (PE 2, SIMD 2) needs 16,384 cycles, so the full range "
        "over every valid folding is wider.",
    )


def accuracy_tfc_table(records: list[dict[str, Any]]) -> Table:
    rows = []
    tfc = [r for r in _ok(records, model="tfc") if _paper_name(r)]
    sizes = sorted({r.get("input_size") for r in tfc}, key=lambda v: (v is None, v or 0))
    seeds_seen: set[int] = set()
    for size in sizes:
        for quant in ("int", "pot"):
            at = [r for r in tfc if r.get("weight_quant") == quant
                  and r.get("input_size") == size]
            if not at:
                continue
            cells, seen = [], set()
            for bits in TFC_BITS:
                values = _per_seed([r for r in at if r["weight_bits"] == bits], "accuracy")
                seen.add(len(values))
                cells.append(_mean_std(values))
            seeds_seen |= {int(r.get("seed") or 0) for r in at}
            baseline = _mean_std(_per_seed(at, "fp32_accuracy")) if quant == "int" else ""
            seeds = "/".join(str(n) for n in sorted(seen - {0})) or "0"
            rows.append([f"TFC ({quant}), {_geometry(at[0])}", *cells, baseline, seeds])
    cnv = _ok(records, model="cnv")
    if cnv:
        cells = [_mean_std(_per_seed([r for r in cnv if r["weight_bits"] == b], "accuracy"))
                 if b in CNV_BITS else "" for b in TFC_BITS]
        rows.append(["CNV (int), 32×32 frame", *cells,
                     _mean_std(_per_seed(cnv, "fp32_accuracy")), "1"])
    several = len(seeds_seen) > 1
    return Table(
        key="accuracy", title="Top-1 test accuracy (%) by bit width (W = A)"
        + (", mean ± std over seeds" if several else ""),
        header=["model, input (inputs)", *[f"{b} bits" for b in TFC_BITS], "FP32", "seeds"],
        rows=rows, align=["l", *"r" * (len(TFC_BITS) + 2)],
        note=(f"Mean ± sample standard deviation over seeds {_joined(seeds_seen)}"
              "; differences between bit widths smaller than about two standard deviations "
              "are seed noise. " if several else "One seed per cell. ")
        + "Paper (TFC, Fashion-MNIST, 40 epochs): A2W2 87.15, A4W4 87.76, A8W8 87.71 %.",
    )


def _joined(values: set[int]) -> str:
    return ", ".join(map(str, sorted(values)))


def pot_table(records: list[dict[str, Any]]) -> Table:
    rows = []
    seed = _hardware_seed(records)
    for bits in POT_BITS:
        for quant in ("int", "pot"):
            at = [r for r in _ok(records, model="tfc", weight_quant=quant, weight_bits=bits)
                  if _paper_name(r) == "a"]
            hw = [r for r in at if r.get("seed", 0) == seed]
            if not hw:
                continue
            r = hw[0]
            wtypes = sorted({t.get("weight", "?") for t in r["layer_datatypes"].values()})
            distinct = max(r.get("weight_distinct_values", {}).values(), default=0)
            rows.append([
                f"W{bits}A{bits}", quant, _mean_std(_per_seed(at, "accuracy")),
                ", ".join(wtypes), str(distinct), f"{r['lut']:,.0f}", f"{r['bram18']:,.0f}",
                f"{r['dsp']:,.0f}",
            ])
    return Table(
        key="int_vs_pot",
        title="Integer vs power-of-two weights (TFC, folding a, 32×32 input)",
        header=["W/A", "weights", "accuracy (%)", "FINN weight type", "distinct weights",
                "LUT", "BRAM18", "DSP"],
        rows=rows, align=list("llrlrrrr"),
        note="FINN stores power-of-two weights as plain integers, so its estimates do not "
        "credit shift-based multipliers; the distinct-value count shows the smaller set. "
        f"Accuracy: mean ± std over seeds; hardware: seed {seed}.",
    )


def cnv_table(records: list[dict[str, Any]]) -> Table:
    rows = []
    for bits in CNV_BITS:
        for r in _ok(records, model="cnv", weight_bits=bits):
            rows.append([
                f"W{bits}A{bits}", r.get("folding_id") or "", str(r.get("epochs", "")),
                f"{100 * r['accuracy']:.2f}", f"{r['est_fps']:,.0f}", f"{r['lut']:,.0f}",
                f"{r['bram18']:,.0f}", f"{r['dsp']:,.0f}", "yes" if r["fits"] else "no",
            ])
    return Table(
        key="cnv", title="CNV by bit width (FINN estimates, Pynq-Z1, 100 MHz)",
        header=["W/A", "folding", "epochs", "accuracy (%)", "FPS", "LUT", "BRAM18", "DSP",
                "fits"],
        rows=rows, align=list("llrrrrrrl"),
        note="" if rows else "no CNV runs in these results (`reproduce --quick` skips CNV)",
    )


def validation_table(rows_in: list[dict[str, Any]]) -> Table:
    rows = [
        [r["design"], f"{r['board']} @ {r['clock_mhz']:.0f} MHz",
         f"{r['est_max_cycles']:,} ({r['published_est_cycles']:,})", f"{r['est_fps']:,.0f}",
         r["measured"], f"{r['est_over_measured']:.2f}", r["est_bottleneck"]]
        for r in rows_in
    ]
    return Table(
        key="validation", title="FINN estimates vs published on-board measurements",
        header=["design", "board", "est. cycles (published est.)", "est. FPS",
                "measured FPS", "est. / measured", "bottleneck"],
        rows=rows, align=list("llrrrrl"),
        note="Published foldings from FINN's BNN-PYNQ examples; weights do not affect these "
        "estimates. TFC on the board is limited by its I/O, not the accelerator.",
    )


def reproduction_tables(
    records: list[dict[str, Any]], validation: list[dict[str, Any]]
) -> list[Table]:
    return [
        accuracy_tfc_table(records), paper_folding_table(records), span_table(records),
        pot_table(records), cnv_table(records), validation_table(validation),
    ]


def tables_markdown(tables: list[Table]) -> str:
    from bench.report.text import table_to_markdown

    return "# Reproduction tables\n\n" + "\n".join(table_to_markdown(t) for t in tables)


def _table_csv(table: Table) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.header)
    writer.writerows(table.rows)
    return buffer.getvalue()
