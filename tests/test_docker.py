"""The Docker image cannot be built here (no engine); check it cannot drift from make."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def _instructions(keyword: str) -> list[str]:
    return [line for line in DOCKERFILE.splitlines() if line.startswith(keyword + " ")]


def test_image_installs_through_make_install_only():
    runs = " ".join(_instructions("RUN"))
    assert "make install" in runs
    assert "pip install" not in DOCKERFILE, "install steps belong in the Makefile"


def test_image_copies_everything_make_install_depends_on():
    stamp_rule = re.search(r"^\$\(STAMP\):(.*)$", MAKEFILE, re.MULTILINE)
    assert stamp_rule, "Makefile has no install stamp rule"
    inputs = stamp_rule.group(1).split()
    copied = " ".join(_instructions("COPY"))
    for name in [*inputs, "Makefile", "bench", "models", "finn_builds"]:
        assert re.search(rf"(^|\s){re.escape(name)}(\s|$)", copied), f"{name} is not copied"
    # The editable install of the project needs the packages in the image too.
    assert "-e ." in MAKEFILE


def test_image_runs_the_reproduction_with_results_on_a_volume():
    assert _instructions("CMD") == ['CMD ["make", "reproduce"]']
    assert "/opt/qnn-bench/results" in " ".join(_instructions("VOLUME"))
    assert re.search(r"^reproduce:", MAKEFILE, re.MULTILINE), "no reproduce target"


def test_image_uses_the_python_the_project_requires():
    assert re.search(r"^FROM python:3\.11", DOCKERFILE, re.MULTILINE)
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text()
