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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.core.outcome import NOT_APPLICABLE_STAGE, record_outcome
from bench.core.record import Record
from bench.core.spec import LayersFolding, RunSpec, make_spec, stable_hash
from bench.engine.store import Store
from bench.report.table_model import Table
from bench.run.executor import Tally, group_points, run_sweep
from bench.studies.paper import (
    CNV_BITS,
    CONFIGS,
    HARDWARE_SEED,
    PAPER_FOLDINGS,
    PAPER_INPUT_SIZE,
    POT_BITS,
    TFC_BITS,
    TFC_CLASSES,
    TFC_HIDDEN,
    paper_folding,
    tfc_inputs,
)
from bench.studies.pot_hardware import pot_hardware_points
from bench.studies.reproduce_tables import (
    measured_rtl_tables,
    reproduction_tables,
    table_csv,
    tables_markdown,
)
from bench.studies.schedule import CNV_EPOCHS, FULL_TFC_EPOCHS, SEEDS

# CNV trains at full width for CNV_EPOCHS by default (see `schedule`); FINN's published CNV
# folding needs 3-channel input, so elsewhere it gets a uniform folding.
CNV_UNIFORM = {"strategy": "uniform", "pe": 16, "simd": 16}
# `reproduce --quick`: TFC only at fewer bit widths and epochs, one seed; every table is
# still written.
QUICK_SUBSET = {"tfc_bits": (2, 4, 8), "pot_bits": (2, 4), "cnv_bits": (), "seeds": (0,)}


def reproduction_points(
    dataset: str = "digits", data_dir: str | None = None, tfc_epochs: int = FULL_TFC_EPOCHS,
    cnv_epochs: int = CNV_EPOCHS, tfc_bits: tuple[int, ...] = TFC_BITS,
    pot_bits: tuple[int, ...] = POT_BITS, cnv_bits: tuple[int, ...] = CNV_BITS,
    seeds: tuple[int, ...] = SEEDS, pot_hw_bits: tuple[int, ...] = (),
    pot_hw_target: str = "rtl",
) -> list[RunSpec]:
    """Every point of the study, not-applicable ones included (see `split_applicable`).

    `pot_hw_bits` adds the integer vs power-of-two hardware measured with our unit
    (`pot_hardware`) at those bit widths, measured with `pot_hw_target` (`rtl`, or
    `route`: also placed and routed). CNV and those come first so that, with several
    workers, the longest groups start first.
    Seeds other than the hardware seed train TFC once per bit width (folding (a) at the
    1,024-input geometry): their accuracy is what they are for.
    """
    # The paper's designs are FINN's default builds (impl hls), and its tables compare FINN's
    # estimates of them with the published Vivado numbers.
    common = {"dataset": dataset, "data_dir": data_dir, "board": "Pynq-Z1", "clk_ns": 10.0,
              "impl": "hls"}
    points = []
    cnv_folding: dict[str, Any] = CNV_UNIFORM
    if dataset == "cifar10":
        cnv_folding = {"strategy": "layers", "file": str(CONFIGS / "cnv_finn_w1a1.json")}
    for bits in cnv_bits:
        points.append(make_spec(model="cnv", weight_bits=bits, act_bits=bits,
                                epochs=cnv_epochs, folding=cnv_folding, fp32_baseline=True,
                                **common))
    hardware_seed = seeds[0] if HARDWARE_SEED not in seeds else HARDWARE_SEED
    if pot_hw_bits:
        points += pot_hardware_points(common, tfc_epochs, hardware_seed, pot_hw_bits,
                                      target=pot_hw_target)
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


def not_applicable_reason(spec: RunSpec) -> str | None:
    """Why a TFC layers folding cannot exist at the spec's input geometry, or None.

    The same check the fold stage makes on the built graph (`layers_folding`), on TFC's
    known layer dimensions, so nothing is trained for a point that cannot be folded.
    """
    from bench.core.folding import FoldingError, Layer, layers_folding

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
    """The points in two phases: first one group per FP32 baseline and every group that
    needs no baseline, then the groups that share a baseline trained in the first.

    Groups that share a baseline would otherwise each train it when they run at the same
    time in different workers; after the first phase every baseline is cached. Groups
    without a baseline keep the other workers busy while the first phase's long groups
    (CNV with its baseline) run.
    """
    first, rest, owned = [], [], set()
    for group in group_points(points):
        key = stable_hash(group[0].baseline_fields()) if group[0].fp32_baseline else None
        if key is None or key not in owned:
            if key is not None:
                owned.add(key)
            first += group
        else:
            rest += group
    return [phase for phase in (first, rest) if phase]


def not_applicable_record(spec: RunSpec, reason: str) -> Record:
    from bench.run.point import identity

    return Record(**{
        **identity(spec), "status": "failed", "error": reason[:500],
        "failed_stage": NOT_APPLICABLE_STAGE,
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
    than on one thread. Spawned workers read OMP_NUM_THREADS when their libraries start;
    training itself is pinned by `train.pinned_threads`. A value the user set wins.
    """
    if "OMP_NUM_THREADS" in os.environ:
        yield
        return
    if jobs <= 1:
        yield  # training pins its own threads (bench.learn.train.pinned_threads)
        return
    os.environ["OMP_NUM_THREADS"] = str(max(1, free_cores() // jobs))
    try:
        yield
    finally:
        del os.environ["OMP_NUM_THREADS"]


def free_cores() -> int:
    """Cores not busy with other work (1-minute load average), at least 1.

    Whole cores only: the average decays for minutes after work ends, so a machine that
    just finished a job still shows a load below 1 and is counted as free.
    """
    cores = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0])
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
    paths.update(write_study_tables(out, [*tables, *measured_rtl_tables(df)]))
    return paths, tally, outcomes


def write_study_tables(out: Path, tables: list[Table]) -> dict[str, Path]:
    """The study's tables as `tables.md` and one CSV per table in `out`."""
    paths = {"tables": out / "tables.md"}
    paths["tables"].write_text(tables_markdown(tables))
    for table in tables:
        csv = out / f"{table.key}.csv"
        csv.write_text(table_csv(table))
        paths[f"{table.key}_csv"] = csv
    return paths


def _outcomes(records: list[dict[str, Any]]) -> Outcomes:
    kinds = [(r["run_id"], record_outcome(r)) for r in records]
    return Outcomes(
        ok=sum(k == "ok" for _, k in kinds),
        not_applicable=sum(k == "not_applicable" for _, k in kinds),
        failed=sum(k == "failed" for _, k in kinds),
        failed_ids=tuple(i for i, k in kinds if k == "failed"),
    )
