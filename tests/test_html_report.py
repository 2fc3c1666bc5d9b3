"""The HTML report: self-contained, and rendered for real in headless Chromium.

The browser test needs Debian's chromium; when /usr/bin/chromium is missing it is installed
with apt-get (CI runs as root with the Debian repositories reachable). If that is not
possible the test fails: a report nobody checked in a browser is not tested.
A screenshot of the rendered report is kept in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from test_collect import (
    failed_record,
    make_record,
    routed_record,
    rtl_record,
    sweep_records,
)

from bench.report.collect import records_to_frame
from bench.report.figures import FIGURES
from bench.report.html import render_html
from bench.report.tables import build_tables
from bench.report.write import write_report

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]


class _Dom(HTMLParser):
    """Collects the tags and attributes the assertions need, and the text of table cells."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str] = {}
        self.images: list[dict[str, str]] = []
        self.tables: list[str] = []
        self.cells: list[str] = []
        self.links: list[str] = []
        self.scripts_with_src = 0
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        elif tag == "img":
            self.images.append(a)
        elif tag == "table":
            self.tables.append(a.get("data-table", ""))
        elif tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")
        elif tag == "link" or (tag == "a" and a.get("href", "").startswith("http")):
            self.links.append(a.get("href", ""))
        elif tag == "script" and a.get("src"):
            self.scripts_with_src += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def parse(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    return dom


def report_records() -> list[dict[str, Any]]:
    return [*sweep_records(), make_record(2, 4, quant="pot", accuracy=0.91), rtl_record(4),
            routed_record(4)]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    return write_report(records_to_frame(report_records()), out, title="TFC digits sweep",
                        dpi=100, pdf=False)


def test_html_is_self_contained(report: dict[str, Path]) -> None:
    html = report["html"].read_text(encoding="utf-8")
    dom = parse(html)
    assert len(dom.images) == len(FIGURES)
    for img in dom.images:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        png = base64.b64decode(img["src"][len(prefix):])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
        assert img["alt"]
    assert not dom.links and dom.scripts_with_src == 0
    assert "http://" not in html and "https://" not in html
    assert dom.tables == ["accuracy", "hardware", "utilization", "pareto", "rtl",
                          "rtl_unmeasured", "failures",
                          "configuration", "versions"]  # no folding is invalid: no table
    assert "step_hw_codegen" in dom.cells  # the failed record, in the failures table
    # table cells are the record values
    assert "24,414" in dom.cells and "93.31" in dom.cells and "97.22" in dom.cells
    # configuration and tool versions come from the records
    assert "finn" in dom.cells and "1.6.1" in dom.cells and "2.13.0+cpu" in dom.cells
    assert "W2A2, W4A4, W8A8" in dom.cells
    # W8A8 at PE16 needs more LUTs than a Pynq-Z1 has: flagged, not hidden
    assert '<td class="l bad">no</td>' in html
    assert html.count('<td class="r bad">') >= 1


def test_html_without_figures_says_why(tmp_path: Path) -> None:
    paths = write_report(records_to_frame([failed_record()]), tmp_path, pdf=False)
    html = paths["html"].read_text(encoding="utf-8")
    dom = parse(html)
    assert dom.images == []
    assert html.count("Figure skipped:") == len(FIGURES)
    assert "failures" in dom.tables and "step_hw_codegen" in dom.cells


def test_not_applicable_foldings_are_not_counted_as_failures() -> None:
    invalid = {**failed_record(), "run_id": "tfc-digits-w8a8-int-layers-tfc_paper_f-x",
               "failed_stage": "choose", "error": "FoldingError: layer MVAU_hls_3: PE=8 does "
               "not divide its output size 10; valid PE values: 1, 2, 5, 10"}
    df = records_to_frame([make_record(2, 4), invalid])
    html = render_html(df, build_tables(df), figures=[])
    assert '<div class="card"><span>not applicable</span><b>1</b></div>' in html
    assert '<div class="card"><span>failed</span><b>0</b></div>' in html  # not red
    dom = parse(html)
    assert "PE=8 does not divide" in " ".join(dom.cells)
    failing = records_to_frame([make_record(2, 4), invalid, failed_record()])
    html = render_html(failing, build_tables(failing), figures=[])
    assert '<div class="card bad"><span>failed</span><b>1</b></div>' in html


def test_mixed_tool_versions_are_flagged() -> None:
    records = [make_record(2, 4), make_record(4, 4)]
    records[1]["versions"]["finn"] = "1.7.0"
    df = records_to_frame(records)
    html = render_html(df, build_tables(df), figures=[])
    assert "1.6.1 (1 runs), 1.7.0 (1 runs)" in html
    assert "different tool versions" in html


# -- headless browser ---------------------------------------------------------------------

def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt-get if missing; the test fails otherwise."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.fail(f"{CHROMIUM} is missing and installing it needs root (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            pytest.fail(f"cannot install chromium: {' '.join(cmd)}: {err}")
        if proc.returncode != 0:
            pytest.fail(f"cannot install chromium: {' '.join(cmd)} exited "
                        f"{proc.returncode}: {proc.stderr[-2000:]}")
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} does not exist")
    return CHROMIUM


def run_chromium(args: list[str], profile: Path, timeout: float = 120) -> str:
    """Run headless chromium in its own process group; kill that group if it hangs."""
    cmd = [str(ensure_chromium()), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {timeout} s: {' '.join(cmd)}")
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {err[-2000:]}"
    return out


def test_report_renders_in_headless_chromium(report: dict[str, Path], tmp_path: Path) -> None:
    url = report["html"].resolve().as_uri()
    dom_html = run_chromium(["--virtual-time-budget=10000", "--dump-dom", url],
                            tmp_path / "profile-dom")
    dom = parse(dom_html)
    # the inline script ran after load and saw every image decoded
    assert dom.body.get("data-images-total") == str(len(FIGURES))
    assert dom.body.get("data-images-loaded") == str(len(FIGURES))
    widths = [int(img.get("data-natural-width", "0")) for img in dom.images]
    assert len(widths) == len(FIGURES) and all(w > 300 for w in widths), widths
    assert dom.tables[:4] == ["accuracy", "hardware", "utilization", "pareto"]
    assert "24,414" in dom.cells and "93.31" in dom.cells

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report_screenshot.png"
    shot.unlink(missing_ok=True)
    run_chromium([f"--screenshot={shot}", "--window-size=1280,2000", url],
                 tmp_path / "profile-shot")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1280
    assert int.from_bytes(data[20:24], "big") == 2000
    assert len(data) > 50_000  # a blank page compresses to a few kB
    shutil.copyfile(report["html"], ARTIFACTS / "report.html")
