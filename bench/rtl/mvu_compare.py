"""Integer vs power-of-two weights in the same matrix-vector unit, measured with Yosys.

Three comparisons, all on `mvu_unit.synthesize_config` (whole unit: control, memories,
datapath, accumulators):

* `compare_adders`: balanced adder tree vs linear adder chain, for each datapath;
* `compare_datapaths`: int W-bit vs n-bit PoT weights over a range of bit widths. The
  integer unit is synthesized twice, with multipliers kept out of DSPs (`-nodsp`, so that
  LUT counts compare like with like) and with DSPs allowed; the PoT unit has no
  multipliers, so DSPs change nothing there;
* `compare_pipelining`: both datapaths with the adder tree in one stage and with pipeline
  registers inside it (`MvuConfig.pipe`), on a wide SIMD where the tree is the unit's
  longest path: what the registers cost and what clock they buy each datapath.

`python -m bench.rtl.mvu_compare WORK_DIR` prints the first two as markdown tables,
`--pipelining` the third.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.rtl.mvu_unit import Datapath, MvuConfig, synthesize_config
from bench.rtl.timing import fmax_est_mhz


@dataclass(frozen=True)
class Point:
    """A unit shape to synthesize."""

    mw: int
    mh: int
    pe: int
    simd: int
    a_bits: int = 4


SMALL = Point(mw=64, mh=16, pe=4, simd=8)
LARGE = Point(mw=256, mh=64, pe=8, simd=32)
# a 64-term dot product per PE (6 adder levels), thresholds as A4 layers have them
WIDE = Point(mw=256, mh=16, pe=4, simd=64)
COLUMNS = ("lut", "lutram", "ff", "carry", "dsp", "bram18", "logic_delay")
PIPELINING_KEYS = ("datapath", "w_bits", "dsp_allowed", "pipe", "dot_stages", "lut", "ff",
                   "dsp", "logic_delay", "fmax_est_mhz")


def adder_name(chain: bool, pin: bool) -> str:
    return ("chain" if chain else "tree") + ("" if pin else " (free)")


def measure(point: Point, datapath: Datapath, w_bits: int, work_dir: Path,
            chain: bool = False, pin: bool = True, dsp: bool = True,
            family: str = "xc7", t_bits: int = 0, pipe: int = 0) -> dict[str, Any]:
    """One synthesis as a flat row."""
    cfg = MvuConfig(point.mw, point.mh, point.pe, point.simd, point.a_bits, w_bits,
                    datapath, t_bits, chain=chain, pin=pin, pipe=pipe)
    name = (f"{datapath}{w_bits}_a{point.a_bits}_pe{point.pe}_simd{point.simd}"
            f"_mw{point.mw}_mh{point.mh}_{'chain' if chain else 'tree'}"
            f"{'' if pin else '_free'}{'' if dsp else '_nodsp'}"
            f"{f'_t{t_bits}' if t_bits else ''}{f'_pipe{pipe}' if pipe else ''}"
            f"{'' if family == 'xc7' else '_' + family}")
    res = synthesize_config(cfg, work_dir / name, family, dsp)
    return {
        "datapath": datapath, "w_bits": w_bits, "acc_bits": cfg.acc_bits,
        "code_bits": cfg.code_bits, "pe": point.pe, "simd": point.simd, "mw": point.mw,
        "mh": point.mh, "a_bits": point.a_bits, "adder": adder_name(chain, pin),
        "dsp_allowed": dsp, "pipe": pipe, "dot_stages": cfg.dot_stages,
        **{c: getattr(res, c) for c in COLUMNS},
        "fmax_est_mhz": fmax_est_mhz(res.logic_delay), "seconds": round(res.seconds, 1),
    }


def compare_adders(work_dir: Path, point: Point = SMALL,
                   cases: tuple[tuple[Datapath, int], ...] = (("int", 4), ("pot", 3),
                                                              ("pot", 4))
                   ) -> list[dict[str, Any]]:
    """Pinned tree, pinned chain, and the tree left to synthesis to re-associate, for each
    (datapath, bits), multipliers in LUTs."""
    variants = ((False, True), (True, True), (False, False))  # (chain, pin)
    return [measure(point, dp, bits, work_dir, chain=chain, pin=pin, dsp=False)
            for dp, bits in cases for chain, pin in variants]


# Further points: int W8 has the integer range of 4-bit PoT; the larger unit at int W4
# against PoT n=3 (same range) and n=4 (same bits).
EXTRA: tuple[tuple[Point, Datapath, int, bool], ...] = (
    (SMALL, "int", 8, False), (SMALL, "int", 8, True),
    (LARGE, "int", 4, False), (LARGE, "int", 4, True),
    (LARGE, "pot", 3, True), (LARGE, "pot", 4, True),
)


def compare_datapaths(work_dir: Path, bits: tuple[int, ...] = (2, 3, 4, 5),
                      point: Point = SMALL,
                      extra: tuple[tuple[Point, Datapath, int, bool], ...] = EXTRA,
                      ) -> list[dict[str, Any]]:
    """int (without and with DSPs) and pot at each bit width, then the `extra` points
    (point, datapath, bits, DSPs allowed); default adder."""
    rows = []
    for b in bits:
        rows.append(measure(point, "int", b, work_dir, dsp=False))
        rows.append(measure(point, "int", b, work_dir, dsp=True))
        rows.append(measure(point, "pot", b, work_dir, dsp=True))
    rows += [measure(p, dp, b, work_dir, dsp=dsp) for p, dp, b, dsp in extra]
    return rows


def compare_pipelining(work_dir: Path, point: Point = WIDE, t_bits: int = 4,
                       pipes: tuple[int, ...] = (0, 2, 1), family: str = "xcup",
                       cases: tuple[tuple[Datapath, int, bool], ...] = (
                           ("int", 3, True), ("int", 3, False), ("pot", 3, True),
                           ("int", 4, True), ("pot", 4, True)),
                       ) -> list[dict[str, Any]]:
    """Each (datapath, bits, DSPs allowed) with the adder tree in one stage and with a
    register after every `pipe`-th level, for the ZCU102's family and with thresholds,
    as the budget study's layers have them."""
    return [measure(point, dp, bits, work_dir, dsp=dsp, family=family, t_bits=t_bits,
                    pipe=pipe) for dp, bits, dsp in cases for pipe in pipes]


def markdown(rows: list[dict[str, Any]],
             keys: tuple[str, ...] = ("datapath", "w_bits", "code_bits", "acc_bits", "pe",
                                      "simd", "mw", "mh", "adder", "dsp_allowed", *COLUMNS),
             ) -> str:
    """Rows as a markdown table."""
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--adders-only", action="store_true")
    parser.add_argument("--pipelining", action="store_true",
                        help="only the adder tree in one stage against pipelined")
    args = parser.parse_args(argv)
    if args.pipelining:
        print(f"## Pipelined adder tree ({WIDE}, thresholds, UltraScale+)\n")
        print(markdown(compare_pipelining(args.work_dir), PIPELINING_KEYS))
        return
    print("## Adder structure (SIMD=8, PE=4, A4, -nodsp)\n")
    print(markdown(compare_adders(args.work_dir)))
    if not args.adders_only:
        print("\n## int vs pot\n")
        print(markdown(compare_datapaths(args.work_dir)))


if __name__ == "__main__":
    main()
