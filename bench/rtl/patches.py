"""The few source edits FINN's RTL library needs before the open-source tools accept it.

Each patch is a literal (file, old, new) replacement with a name and the reason it is
needed. They are applied to a copy of the library (see `rtllib.py`), never to the installed
package, and applying one fails loudly when its text is not found: a FINN update that
changes a patched line must be looked at, not silently skipped.

Every patch keeps the hardware the same: it rewrites constructs that Vivado accepts and
Yosys/slang or Verilator reject, or (the FIFO's shift register) that Yosys maps worse than
Vivado does, into equivalent ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The leaf-count function of FINN's adder tree (add_multi.sv), verbatim.
_LEAF_LOADS = (
    "\t\t// Compute the count of decendents for all nodes in the reduction trees.\n"
    "\t\ttypedef int unsigned  leaf_load_t[2*N-1];\n"
    "\t\tfunction leaf_load_t init_leaf_loads();\n"
    "\t\t\tautomatic leaf_load_t  res;\n"
    "\t\t\tfor(int unsigned  i = 2*N-1; i-- > N-1;)  res[i] = 1;\n"
    "\t\t\tfor(int unsigned  i =   N-1; i-- >   0;)  res[i] = res[2*i+1] + res[2*i+2];\n"
    "\t\t\treturn  res;\n"
    "\t\tendfunction : init_leaf_loads\n"
)


# The address-space split of FINN's FIFO (fifo.sv), verbatim: a constant function that
# builds a struct, which Verilator cannot evaluate as a constant.
_FIFO_ABITS = (
    '\tfunction abits_t INIT_ABITS();\n'
    "\t\tautomatic abits_t  abits = '{ lo: $clog2(DEPTH_REQ), hi: 0 };\n"
    '\t\tif(abits.lo > MIN_ABITS) begin\n'
    '\t\t\t// Consider Decomposition into lo + hi\n'
    '\t\t\tautomatic int unsigned  hi_abits = $clog2(DEPTH_REQ - 2**(abits.lo-1));\n'
    '\t\t\tif(hi_abits < abits.lo - 1) begin\n'
    '\t\t\t\tabits.lo--;\n'
    '\t\t\t\tabits.hi = hi_abits < 1? 1 : hi_abits;\n'
    '\t\t\tend\n'
    '\t\tend\n'
    '\t\treturn  abits;\n'
    '\tendfunction : INIT_ABITS\n'
    '\tlocalparam abits_t       ABITS      = INIT_ABITS();\n'
)
_FIFO_ABITS_FLAT = (
    "\tlocalparam int unsigned  ABITS_LO0 = $clog2(DEPTH_REQ);\n"
    "\tlocalparam int unsigned  ABITS_HI0 =\n"
    "\t\tABITS_LO0 > MIN_ABITS? $clog2(DEPTH_REQ - 2**(ABITS_LO0-1)) : 0;\n"
    "\tlocalparam bit  ABITS_SPLIT = ABITS_LO0 > MIN_ABITS && ABITS_HI0 < ABITS_LO0 - 1;\n"
    "\tlocalparam abits_t       ABITS      = '{\n"
    "\t\tlo: ABITS_SPLIT? ABITS_LO0 - 1 : ABITS_LO0,\n"
    "\t\thi: !ABITS_SPLIT? 0 : ABITS_HI0 < 1? 1 : ABITS_HI0\n"
    "\t};\n"
)


class PatchError(RuntimeError):
    """A patch's text was not found (or found too often) in the file it targets."""


@dataclass(frozen=True)
class Patch:
    """Literal edits of one file; each `old` must occur exactly once."""

    name: str
    file: str  # relative to finn-rtllib/
    edits: tuple[tuple[str, str], ...]  # (old, new) pairs, applied in order
    reason: str



def _without_nettype_directives(module: str) -> tuple[tuple[str, str], ...]:
    """Edits dropping the `default_nettype none/wire pair FINN puts inside `module`
    (slang refuses directives inside a design element)."""
    return ((");\n`default_nettype none\n", ");\n"),
            (f"`default_nettype wire\nendmodule : {module}", f"endmodule : {module}"))

PATCHES: tuple[Patch, ...] = (
    Patch(
        name="thresholding-scope-part-select",
        file="thresholding/hdl/thresholding.sv",
        edits=((
            "p.ptr[M-1:SN+1] < 2**stage - SCOPE_REDUCE;",
            "p.ptr[M-1:(stage == 0)? M-1 : SN+1] < 2**stage - SCOPE_REDUCE;",
        ),),
        reason=(
            "At stage 0 the select p.ptr[M-1:M] is reversed. It sits in the branch of "
            "`SCOPE_REDUCE == 0 ? 1 : ...` that is dead at stage 0, which Vivado ignores but "
            "slang rejects as unsynthesizable; the guard gives it a legal width."
        ),
    ),
    Patch(
        name="add-multi-function-at-module-level",
        file="mvu/add_multi.sv",
        edits=(
            (_LEAF_LOADS, ""),
            (
                "localparam int unsigned  L = $clog2(N);  // Number of levels with reductions\n",
                "localparam int unsigned  L = $clog2(N);  // Number of levels with reductions\n"
                + _LEAF_LOADS,
            ),
        ),
        reason=(
            "init_leaf_loads() is declared inside a generate block and called to initialise a "
            "localparam; slang does not allow calling such a function in a constant "
            "expression. It only depends on the module parameter N, so it moves (with its "
            "typedef) to module level."
        ),
    ),
    Patch(
        name="mvu-watchdog-simulation-only",
        file="mvu/mvu.sv",
        edits=(
            ("\tif(1) begin : blkRecoveryWatch\n",
             "`ifndef SYNTHESIS\n\tif(1) begin : blkRecoveryWatch\n"),
            ("\tend : blkRecoveryWatch\n", "\tend : blkRecoveryWatch\n`endif\n"),
        ),
        reason=(
            "The DSP start-up watchdog clears a flag 100 ns into simulation with a delayed "
            "non-blocking assignment in an initial block, which slang refuses to synthesize; "
            "it only warns in simulation, so synthesis (SYNTHESIS defined) leaves it out. "
            "Dropping all initial blocks instead would also drop the weight memory contents."
        ),
    ),
    Patch(
        name="fifo-for-verilator-and-slang",
        file="fifo/hdl/fifo.sv",
        edits=(
            (_FIFO_ABITS, _FIFO_ABITS_FLAT),
            *_without_nettype_directives("fifo"),
        ),
        reason=(
            "INIT_ABITS() fills a struct in a constant function; Verilator cannot "
            "evaluate that as a constant (\"can't determine constant for FUNCREF\"). "
            "The same split is written as plain localparams with the same values. "
            "slang refuses `default_nettype inside a module; it only checks for implicit "
            "nets, so the two directives go."
        ),
    ),
    Patch(
        name="fifo-shift-register-per-bit",
        file="fifo/hdl/fifo.sv",
        edits=(
            ('\t\t(* SHREG_EXTRACT = "yes" *) dat_t  A[DEPTH_IMPL];\n',
             '\t\tuwire  push;\n'
             '\t\tuwire dat_t  ARd;  // the word at Ptr, each bit from its own shift register\n'
             '\t\tfor(genvar  b = 0; b < DATA_WIDTH; b++) begin : genBitSRL\n'
             '\t\t\t(* SHREG_EXTRACT = "yes" *) logic [DEPTH_IMPL-1:0]  S;\n'
             '\t\t\talways_ff @(posedge clk) begin\n'
             '\t\t\t\tif(push)  S <= { S[DEPTH_IMPL-2:0], idat[b] };\n'
             '\t\t\tend\n'
             '\t\t\tassign\tARd[b] = S[Ptr[$left(Ptr)-1:0]];\n'
             '\t\tend : genBitSRL\n'),
            ('\t\talways_ff @(posedge clk) begin\n'
             '\t\t\tif(push)  A <= { idat, A[0:DEPTH_IMPL-2] };\n'
             '\t\tend\n', ''),
            ('\t\tuwire  push = Rdy && ivld;\n', '\t\tassign  push = Rdy && ivld;\n'),
            ('\t\t\t\t\tB <= A[Ptr[$left(Ptr)-1:0]];\n', '\t\t\t\t\tB <= ARd;\n'),
        ),
        reason=(
            "The shallow FIFO's storage is one array of words shifted as a whole and read "
            "at a moving position; Vivado builds it from SRLs, but Yosys' SRL inference "
            "only recognizes one-bit shift registers read through a $shiftx, so it built "
            "one flip-flop per stored bit and a multiplexer tree. The same storage is "
            "written as one shift register per data bit (bit b of word k is S[k] of bit "
            "b's register), read at the same position; with the FIFO's $bmux turned into "
            "a $pmux before synthesis (`yosys.FIFO_READ_SELECTION`) each maps to an "
            "SRL16E/SRLC32E."
        ),
    ),
    Patch(
        name="vpc-no-nettype-directives",
        file="dwc/hdl/vpc.sv",
        edits=_without_nettype_directives("vpc"),
        reason=(
            "The width converter's core (vpc.sv, under StreamingDataWidthConverter_rtl) "
            "has the same two `default_nettype directives inside its module as fifo.sv; "
            "slang refuses them, so a stitched design with a width converter could be "
            "simulated but not synthesized."
        ),
    ),
    Patch(
        name="axilite-declare-before-use",
        file="axi/hdl/axilite.sv",
        edits=(
            ("\tuwire  clr_wr;\n", "\tuwire  clr_wr;\n\tuwire  snk_re;\n"),
            ("\tuwire  snk_re = !snk_we", "\tassign  snk_re = !snk_we"),
        ),
        reason=(
            "snk_re is used in an always_ff block above its declaration; slang requires "
            "declaration before use. It is declared with the other forward wires and "
            "assigned where it was defined."
        ),
    ),
)


def apply_patch(root: Path, patch: Patch) -> None:
    path = root / patch.file
    if not path.is_file():
        raise PatchError(f"patch {patch.name}: {patch.file} not found under {root}")
    text = path.read_text()
    for old, new in patch.edits:
        found = text.count(old)
        if found != 1:
            raise PatchError(
                f"patch {patch.name}: expected {old!r} once in {patch.file}, found it "
                f"{found} times; FINN's source changed, review the patch"
            )
        text = text.replace(old, new)
    path.write_text(text)


def apply_patches(root: Path, patches: tuple[Patch, ...] = PATCHES) -> list[str]:
    """Apply `patches` to the library copy at `root`; return the names applied."""
    for patch in patches:
        apply_patch(root, patch)
    return [p.name for p in patches]
