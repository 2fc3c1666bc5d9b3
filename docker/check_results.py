"""Check, from outside the container, what `make docker-test` left on the results volume.

    python3 docker/check_results.py RESULTS_DIR UID

Expects the record of `make bench BITS=2 PE=4` under RESULTS_DIR/runs, the quick
reproduction (`make reproduce QUICK=1`) under RESULTS_DIR/reproduce with every table, and
every file owned by UID. Standard library only, so any python3 can run it. Prints one line
per failed check and exits 1 if there is any.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

# Every table the reproduction writes (RESULTS/reproduce/<key>.csv, one heading each in
# tables.md); the quick mode runs no CNV point and no measured hardware, so only those
# tables may be empty.
TABLES = ("accuracy", "paper_foldings", "folding_span", "int_vs_pot", "pot_hardware", "cnv",
          "validation")
MAY_BE_EMPTY = {"cnv", "pot_hardware"}
QUICK_TFC_BITS = {2, 4, 8}
QUICK_POT_BITS = {2, 4}


def _records(runs: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(runs.glob("*.json"))]


def check_bench(results: Path) -> list[str]:
    records = _records(results / "runs")
    if len(records) != 1:
        return [f"bench: expected 1 record in {results / 'runs'}, found {len(records)}"]
    r = records[0]
    problems = []
    if r.get("status") != "ok":
        problems.append(f"bench: status {r.get('status')!r}: {r.get('error')}")
    point = (r.get("model"), r.get("weight_bits"), r.get("act_bits"),
             (r.get("folding_spec") or {}).get("pe"))
    if point != ("tfc", 2, 2, 4):
        problems.append(f"bench: record is for (model, W, A, PE) = {point}, not (tfc, 2, 2, 4)")
    if not (r.get("est_fps") or 0) > 0 or not (r.get("lut") or 0) > 0:
        problems.append(f"bench: no estimates (est_fps={r.get('est_fps')}, lut={r.get('lut')})")
    if r.get("verify_ok") is not True:
        problems.append(f"bench: software verification not bit-exact ({r.get('verify_ok')})")
    if not (results / "results.csv").is_file():
        problems.append("bench: results.csv missing")
    return problems


def check_reproduction(results: Path) -> list[str]:
    out = results / "reproduce"
    problems = []
    records = _records(out / "runs")
    ok = [r for r in records if r.get("status") == "ok"]
    for quant, expected in (("int", QUICK_TFC_BITS), ("pot", QUICK_POT_BITS)):
        got = {r["weight_bits"] for r in ok if r["model"] == "tfc" and r["weight_quant"] == quant}
        if got != expected:
            problems.append(f"reproduce: TFC ({quant}) ran at bits {sorted(got)}, "
                            f"expected {sorted(expected)}")
    if any(r.get("model") != "tfc" for r in records):
        problems.append("reproduce: the quick mode ran a model other than TFC")
    tables = (out / "tables.md").read_text() if (out / "tables.md").is_file() else ""
    if tables.count("\n### ") != len(TABLES):
        problems.append(f"reproduce: tables.md has {tables.count(chr(10) + '### ')} tables, "
                        f"expected {len(TABLES)}")
    if "skips CNV" not in tables:
        problems.append("reproduce: tables.md does not say that the CNV table was skipped")
    for key in TABLES:
        path = out / f"{key}.csv"
        if not path.is_file():
            problems.append(f"reproduce: {path.name} missing")
            continue
        rows = list(csv.reader(path.open()))
        if not rows or (len(rows) < 2 and key not in MAY_BE_EMPTY):
            problems.append(f"reproduce: {path.name} has no rows")
    spans = list(csv.reader((out / "folding_span.csv").open()))[1:] \
        if (out / "folding_span.csv").is_file() else []
    if not spans or any(row[3] != "64×" for row in spans):
        problems.append(f"reproduce: folding spans {[row[3] for row in spans]}, expected 64×")
    html = (out / "report.html").read_text() if (out / "report.html").is_file() else ""
    if html.count("<img") < 3:
        problems.append("reproduce: report.html missing or without figures")
    return problems


def check_owner(results: Path, uid: int) -> list[str]:
    foreign = [p for p in [results, *results.rglob("*")] if p.lstat().st_uid != uid]
    if foreign:
        return [f"ownership: {len(foreign)} paths not owned by uid {uid}, e.g. {foreign[0]} "
                f"(uid {foreign[0].lstat().st_uid})"]
    return []


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: check_results.py RESULTS_DIR UID", file=sys.stderr)
        return 2
    results = Path(argv[0])
    if not results.is_dir():
        print(f"check_results: {results} is not a directory", file=sys.stderr)
        return 1
    problems = [*check_bench(results), *check_reproduction(results),
                *check_owner(results, int(argv[1]))]
    for problem in problems:
        print(f"FAILED {problem}")
    if not problems:
        n = sum(1 for _ in results.rglob("*"))
        print(f"results checked: bench record, quick reproduction with all {len(TABLES)} "
              f"tables, {n} paths owned by uid {argv[1]}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
