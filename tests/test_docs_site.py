"""The documentation site builds strictly: every page in the nav, no broken link or anchor,
and an API reference that mkdocstrings can render from the docstrings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "mkdocs.yml"


def test_mkdocs_builds_strictly(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(CONFIG),
         "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"

    pages = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    built = [p for p in pages if (site / ("" if p == "index" else p) / "index.html").is_file()]
    assert built == pages, f"pages missing from the site: {sorted(set(pages) - set(built))}"

    # The reference must hold rendered objects, not just the `::: module` lines.
    reference = (site / "reference" / "index.html").read_text()
    modules = re.findall(r"^::: ([\w.]+)$", (ROOT / "docs" / "reference.md").read_text(),
                         re.MULTILINE)
    assert len(modules) >= 5, modules
    missing = [m for m in modules if f'id="{m}"' not in reference]
    assert not missing, f"modules not rendered in the API reference: {missing}"
    assert 'id="bench.core.spec.RunSpec"' in reference
