"""Integer vs power-of-two weights as a designer compares them: the fastest design that
fits a board, per weight format, at equal bits and at equal accuracy.

Comparing int and PoT at the same folding asks which is smaller; a designer asks which
is faster once the board is full. Shifts use no DSPs, so a PoT design's parallelism is
bounded by LUTs alone, while an integer design may run out of DSPs first. Each point here
is one (board, network, design, bits) whose folding is the `fastest` strategy: the
Pareto search over per-layer PE/SIMD, priced by the calibrated costs, within a stated
share of every resource of the board. With `verify`, every winner is then built: Yosys
synthesizes its layers and the stitched design (the measured totals must fit the same
budget) and Verilator simulates it on test images (the simulated FPS).

The integer side gets every fair chance, each a separate design:
* `int`: our unit, products of 9+ bits in DSPs (as Yosys maps them);
* `int-lut`: our unit with DSPs off, every product in LUTs;
* `int-finn`: FINN's own RTL MVU, which packs two or three narrow products per DSP.
The 8-bit integer design plays the role of a conventional multiplier array (the
paper's VPE). Accuracy is the mean and standard deviation over training seeds of the
same network and data; the hardware uses the first seed's model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.core.spec import RunSpec, make_spec
from bench.engine.store import Store
from bench.run.executor import Tally, run_sweep
from bench.studies.schedule import FULL_TFC_EPOCHS, QUICK_TFC_EPOCHS


@dataclass(frozen=True)
class Design:
    """One way to build a weight format's matrix-vector layers."""

    key: str
    weight_quant: str  # int or pot
    mvu: str  # finn (FINN's MVAU_rtl) or rtl (our unit)
    dsp: str  # auto or off
    label: str


DESIGNS: tuple[Design, ...] = (
    Design("pot", "pot", "rtl", "auto", "PoT, our unit (shifts)"),
    Design("int", "int", "rtl", "auto", "int, our unit (DSPs from 9-bit products)"),
    Design("int-lut", "int", "rtl", "off", "int, our unit, DSPs off"),
    Design("int-finn", "int", "finn", "auto", "int, FINN's MVAU_rtl (packed DSPs)"),
)
DESIGN_KEYS = tuple(d.key for d in DESIGNS)

# Networks per board: each is larger, fully unfolded, than the board's budget, so the
# search is bounded by resources, not by the network's own parallelism. On digits
# (64 inputs), TFC fully unfolded needs ~13k lanes, SFC ~150k.
NETWORKS: dict[str, tuple[str, ...]] = {"Pynq-Z1": ("tfc", "sfc"), "ZCU102": ("sfc",)}
INT_BITS = (2, 3, 4, 5, 6, 7, 8)
POT_BITS = (2, 3, 4, 5)
ACT_BITS = 4
LIMIT = 0.85  # share of every resource of the board a design may use
SEEDS = (0, 1, 2)
DATASET = "digits"


@dataclass(frozen=True)
class BudgetStudy:
    """What the study covers; `quick()` is the small version."""

    networks: dict[str, tuple[str, ...]]
    int_bits: tuple[int, ...] = INT_BITS
    pot_bits: tuple[int, ...] = POT_BITS
    designs: tuple[str, ...] = DESIGN_KEYS
    act_bits: int = ACT_BITS
    limit: float = LIMIT
    seeds: tuple[int, ...] = SEEDS
    epochs: int = FULL_TFC_EPOCHS
    verify: bool = True

    @classmethod
    def full(cls, **overrides: Any) -> BudgetStudy:
        return cls(networks=NETWORKS, **overrides)

    @classmethod
    def quick(cls, **overrides: Any) -> BudgetStudy:
        return cls(**{"networks": {"Pynq-Z1": ("tfc",)}, "int_bits": (2, 4),
                      "pot_bits": (2, 4), "designs": ("pot", "int", "int-lut"),
                      "seeds": (0, 1), "epochs": QUICK_TFC_EPOCHS, **overrides})

    def formats(self) -> list[tuple[Design, int]]:
        """(design, weight bits) of every point on one board and network."""
        chosen = [d for d in DESIGNS if d.key in self.designs]
        return [(d, bits) for d in chosen
                for bits in (self.pot_bits if d.weight_quant == "pot" else self.int_bits)]


def design_of(record: dict[str, Any]) -> Design | None:
    """The design a record was built as (None: not one of this study's)."""
    for d in DESIGNS:
        if (record.get("weight_quant") == d.weight_quant
                and (record.get("mvu") or "finn") == d.mvu
                and (record.get("dsp_policy") or "auto") == d.dsp):
            return d
    return None


def _spec(study: BudgetStudy, board: str, network: str, design: Design, bits: int,
          seed: int, target: str) -> RunSpec:
    return make_spec(
        model=network, dataset=DATASET, weight_bits=bits, act_bits=study.act_bits,
        weight_quant=design.weight_quant, mvu=design.mvu, impl="rtl",
        dsp=design.dsp if (target == "rtl" or design.mvu == "rtl") else "auto",
        folding={"strategy": "fastest", "max_utilization": study.limit},
        board=board, target=target, epochs=study.epochs, seed=seed)


def budget_points(study: BudgetStudy) -> list[RunSpec]:
    """The winners to build (first seed) and the other seeds' accuracy points.

    Other seeds train once per (network, weight format) and are searched but not built:
    only their accuracy is used. The first seed's hardware target is `rtl` when the
    study verifies, so its records carry the measured design.
    """
    hardware_seed, *other_seeds = study.seeds
    target = "rtl" if study.verify else "estimate"
    points = []
    for board, networks in study.networks.items():
        for network in networks:
            for design, bits in study.formats():
                points.append(_spec(study, board, network, design, bits, hardware_seed,
                                    target))
    accuracy_designs = {(d.weight_quant, b): d for d, b in study.formats()}
    first_board = next(iter(study.networks))
    trained = {n for ns in study.networks.values() for n in ns}
    for network in sorted(trained):
        board = next((b for b, ns in study.networks.items() if network in ns), first_board)
        for (_, bits), design in sorted(accuracy_designs.items()):
            for seed in other_seeds:
                points.append(_spec(study, board, network, design, bits, seed, "estimate"))
    return points


def study_run_ids(study: BudgetStudy) -> set[str]:
    """The records the study's tables read: its points and, searching only, the winners
    that an earlier run built in the same directory (their measurement beats the
    estimate, and re-running the search must not hide it)."""
    ids = {p.run_id() for p in budget_points(study)}
    if not study.verify:
        ids |= {p.run_id() for p in budget_points(replace(study, verify=True))}
    return ids


def run_budget_study(
    results_dir: Path, study: BudgetStudy, jobs: int = 1,
    on_event: Callable[[dict[str, Any], Tally], None] = lambda event, tally: None,
    log: Callable[[str], None] = lambda msg: None,
) -> tuple[list[dict[str, Any]], Tally]:
    """Run (or resume) the study's points into RESULTS/pot_budget; their records (the
    tables are `pot_budget_table.write_outputs`)."""
    out = Path(results_dir) / "pot_budget"
    points = budget_points(study)
    building = "building" if study.verify else "not building"
    log(f"pot budget: {len(points)} points -> {out} ({building} the winners)")
    tally = Tally(total=len(points))

    def count(event: dict[str, Any], _: Tally) -> None:
        tally.add(event)
        on_event(event, tally)

    run_sweep(points, out, jobs=jobs, retry_failed=True, on_event=count, log=log)
    wanted = study_run_ids(study)
    records = [r.model_dump() for r in Store(out).iter_records() if r.run_id in wanted]
    return records, tally
