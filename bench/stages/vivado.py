"""The Vivado targets (synth, bitfile): FINN's own flow past the estimates, with the
post-synthesis numbers added to the same record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.core.devices import get_board
from bench.core.spec import RunSpec
from bench.engine.stage import RunContext, Stage
from bench.stages.artifacts import exported
from bench.stages.choose import finn_config


def _require_vivado(spec: RunSpec) -> None:
    from bench.core.errors import SpecError
    from bench.finn_flow import steps_past_estimates, vivado_available

    if vivado_available():
        return
    extra = steps_past_estimates(spec.target)
    raise SpecError(
        f"target {spec.target!r} needs Vivado, and XILINX_VIVADO is not set; with Vivado the "
        f"same run continues past the estimates with FINN's {', '.join(extra)} and adds "
        "synth_* and fmax_mhz to the record"
    )


def _synth(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench import finn_flow

    board = get_board(ctx.spec.board)
    plan = finn_flow.synthesis_plan(ctx.spec.target, finn_config(ctx), board.name,
                                    board.part, ctx.spec.clk_ns, entry)
    return finn_flow.run_synthesis(exported(ctx).path, plan)


SYNTH = Stage(
    "synth", produce=_synth, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"folding": finn_config(ctx), "target": ctx.spec.target,
                            "board": ctx.spec.board, "clk_ns": ctx.spec.clk_ns},
    upstream=("export", "external"),
    active=lambda spec: spec.target in ("synth", "bitfile"),
    requires=_require_vivado,
    record=lambda ctx, fields: dict(fields),
    describe=lambda ctx: f"running FINN through {ctx.spec.target} (Vivado)",
)
