"""What became of a run point: ok, not applicable, or failed.

A folding whose PE or SIMD does not divide a layer's dimension cannot exist on that
network at that input geometry (the paper's folding (e) on 1,024 inputs, or (f)'s PE 8 on
a 10-output layer): the point is *not applicable* by design, and qnn-bench rejects it
before FINN runs. That is a property of the question, not a fault of the toolchain, so
summaries, tables and exit codes count it apart from failures. Records keep
`status: failed` with the rejection as their error; this module is the one place that
tells the two apart.
"""

from __future__ import annotations

from typing import Any, Literal

Outcome = Literal["ok", "not_applicable", "failed"]
# The folding choice's rejection of a folding that does not fit the graph's dimensions.
NOT_APPLICABLE_STAGE = "choose"
# Records written before that stage was named after what it does.
_OLD_NAMES = {"fold": NOT_APPLICABLE_STAGE}
NOT_APPLICABLE_ERROR = "FoldingError:"


def outcome(status: Any, failed_stage: Any = None, error: Any = None) -> Outcome:
    """Classify one record's status, failing stage and error line."""
    if status == "ok":
        return "ok"
    stage = _OLD_NAMES.get(str(failed_stage), failed_stage)
    if stage == NOT_APPLICABLE_STAGE and str(error or "").startswith(
        NOT_APPLICABLE_ERROR
    ):
        return "not_applicable"
    return "failed"


def record_outcome(record: Any) -> Outcome:
    """`outcome` of a record given as a dict or a `Record`."""
    get = record.get if isinstance(record, dict) else lambda key: getattr(record, key, None)
    return outcome(get("status"), get("failed_stage"), get("error"))
