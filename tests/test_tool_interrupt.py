"""Ctrl-C, SIGTERM or a timeout end a hardware tool with everything it started (make,
c++, ...), and a compiled model cut short is never taken for a finished one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.rtl import tools, verilator

ROOT = Path(__file__).resolve().parents[1]


def _running(pid: int) -> bool:
    """Alive and not a zombie (in a container nobody may reap an orphan)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.05)
    return not _running(pid)


def _grandchild_script(pid_file: Path, seconds: int) -> list[str]:
    """A tool that starts a process of its own (as make starts c++) and waits for it."""
    return ["sh", "-c", f"sleep {seconds} & echo $! > {pid_file}; wait"]


def _read_pid(pid_file: Path, seconds: float = 30) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = pid_file.read_text().strip() if pid_file.exists() else ""
        if text:
            return int(text)
        time.sleep(0.05)
    raise AssertionError("the tool did not start")


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_tools_whole_process_group(tmp_path, signum, code):
    pid_file = tmp_path / "grandchild.pid"
    program = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from bench.core import interrupt\n"
        "from bench.rtl.tools import run\n"
        "interrupt.install()\n"
        "try:\n"
        f"    run({_grandchild_script(pid_file, 300)!r})\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(interrupt.exit_code())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.PIPE,
                            text=True)
    grandchild = _read_pid(pid_file)
    try:
        assert _running(grandchild)
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == code, proc.stderr.read() if proc.stderr else ""
        assert _wait_gone(grandchild, 5), "the tool's own child outlived the command"
    finally:
        if _running(grandchild):
            os.kill(grandchild, signal.SIGKILL)
        proc.kill()
        proc.wait()


def test_a_timeout_ends_the_tools_whole_process_group(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    started = time.monotonic()
    log = tmp_path / "tool.log"
    with pytest.raises(tools.RtlToolInterrupted, match="did not finish within 1 s"):
        tools.run(["sh", "-c", f"echo started; {_grandchild_script(pid_file, 20)[2]}"],
                  log=log, timeout=1)
    grandchild = _read_pid(pid_file, 1)
    try:
        assert time.monotonic() - started < 10
        assert log.read_text() == "started\n"  # what it wrote until then is kept
        assert _wait_gone(grandchild, 5)
    finally:
        if _running(grandchild):
            os.kill(grandchild, signal.SIGKILL)


PASSTHROUGH = """
module passthrough (
    input ap_clk, input ap_rst_n,
    input [7:0] s_axis_tdata, input s_axis_tvalid, output s_axis_tready,
    output [7:0] m_axis_tdata, output m_axis_tvalid, input m_axis_tready);
  assign s_axis_tready = m_axis_tready;
  assign m_axis_tdata = s_axis_tdata;
  assign m_axis_tvalid = s_axis_tvalid;
endmodule
"""


def test_a_model_left_by_an_interrupted_build_is_built_again(tmp_path):
    """A killed build can leave the executable half-linked: only a build that finished
    counts, so the leftover is replaced by a working model."""
    tools.require_tools()
    source = tmp_path / "passthrough.v"
    source.write_text(PASSTHROUGH)
    cache = tmp_path / "cache"
    key = verilator._model_key([source], "passthrough", {}, {})
    leftover = cache / f"passthrough-{key[:16]}" / "obj" / "Vtb_top"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"\x7fELF half-linked")
    leftover.chmod(0o755)

    result = verilator.simulate([source], "passthrough", [1, 2, 3], 8, 8, 3,
                                tmp_path / "run", cache_dir=cache)
    assert result.build_seconds > 0
    assert result.outputs == [1, 2, 3] and not result.timed_out
    again = verilator.simulate([source], "passthrough", [4], 8, 8, 1, tmp_path / "run2",
                               cache_dir=cache)
    assert again.build_seconds == 0 and again.outputs == [4]  # a finished build is reused


def test_a_tool_ended_by_a_signal_is_an_interruption_and_a_failing_one_is_not(tmp_path):
    """The out-of-memory killer's SIGKILL says nothing about the design: it must not read
    as the tool's verdict (which callers keep as a result)."""
    with pytest.raises(tools.RtlToolInterrupted, match="ended by signal 9"):
        tools.run(["sh", "-c", "kill -9 $$"], log=tmp_path / "killed.log")
    with pytest.raises(tools.RtlToolError) as failed:
        tools.run(["sh", "-c", "echo no such design >&2; exit 1"], log=tmp_path / "failed.log")
    assert not isinstance(failed.value, tools.RtlToolInterrupted)
    assert "failed with code 1" in str(failed.value) and "no such design" in str(failed.value)
