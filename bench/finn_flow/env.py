"""Making finn-plus runnable in this process, with or without Vivado.

Every workaround finn-plus 1.6.1 needs on a machine without the Xilinx tools lives here and
is applied only when `XILINX_VIVADO` is unset:

* FINN's settings must be initialized before any transformation runs;
* `finn.builder.build_dataflow_steps` imports `finn.xsi.SimEngine` at module level, which
  raises without Vivado, so it is stubbed first;
* the builder's final metadata stamp asks for the Vivado root, so it gets a placeholder.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

_prepared = False


def vivado_available() -> bool:
    return bool(os.environ.get("XILINX_VIVADO"))


def prepare_finn(build_dir: Path | None = None) -> None:
    """Apply the settings and workarounds above, once per process."""
    global _prepared
    if _prepared:
        return
    build_dir = Path(build_dir or os.environ.get("FINN_BUILD_DIR") or _default_build_dir())
    build_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FINN_BUILD_DIR", str(build_dir.resolve()))
    import finn.util.settings as finn_settings

    with quiet():
        finn_settings.initialize_dummy_settings()
    if not vivado_available():
        import finn.xsi

        finn.xsi.SimEngine = None
        import finn.builder.build_dataflow as build_dataflow

        build_dataflow.get_vivado_root = lambda: "no-vivado"
    _prepared = True


def _default_build_dir() -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"qnnbench-finn-{os.getuid()}"


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """Capture FINN's console chatter; FINN also swaps sys.stdout for a logger, undo that."""
    saved_out, saved_err = sys.stdout, sys.stderr
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err
