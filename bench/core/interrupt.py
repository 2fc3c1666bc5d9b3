"""Ctrl-C and SIGTERM stop the whole command, and never become a failed record.

FINN's builder catches every exception, KeyboardInterrupt included, logs it and reports
the step as failed. So the signal is noted here before Python raises it; code that sees a
failure can ask `requested()` and stop instead of recording the failure.
"""

from __future__ import annotations

import signal
from types import FrameType

_received: int | None = None


def requested() -> bool:
    return _received is not None


def exit_code() -> int:
    """130 after SIGINT, 143 after SIGTERM (128 + the signal number, as shells report)."""
    return 128 + (_received or signal.SIGINT)


def _handle(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = signum
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGINT and SIGTERM through `_handle` (main thread of the command only)."""
    signal.signal(signal.SIGINT, _handle)
    signal.signal(signal.SIGTERM, _handle)
