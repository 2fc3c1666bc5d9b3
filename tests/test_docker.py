"""The Docker image and `make docker-test` cannot drift from make, the README or each other.

`make docker-test` builds and runs the image for real (docker/docker-test.sh); these checks
are the static half and run without a Docker engine.
"""

import importlib.util
import re
import shutil
import subprocess
import threading
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.cli import build_parser
from bench.studies.reproduce import QUICK_SUBSET, reproduction_points, reproduction_tables

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
README = (ROOT / "README.md").read_text()
DOCKER_TEST = (ROOT / "docker" / "docker-test.sh").read_text()
_DOCKER_START = README.index("## Docker\n")
DOCKER_SECTION = README[_DOCKER_START:README.index("\n## ", _DOCKER_START)]


def _instructions(keyword: str) -> list[str]:
    """Instructions of one kind, continuation lines joined."""
    logical = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line for line in logical.splitlines() if line.startswith(keyword + " ")]


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        body = pattern.removeprefix("!")
        regex = "".join(
            "(.*/)?" if token == "**/" else "[^/]*" if token == "*" else re.escape(token)
            for token in re.findall(r"\*\*/|\*|[^*]+", body)
        )
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            ignored = not pattern.startswith("!")
    return ignored


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "docker" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_dockerignore_keeps_results_caches_and_venv_out_but_not_what_is_copied():
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name in (".venv", "results", "build", ".pytest_cache", ".ruff_cache", "**/__pycache__",
                 ".qnnbench-cache"):
        assert name in patterns, f".dockerignore does not exclude {name}"
    for path in (".venv/bin/python", "results/runs/x.json", "bench/__pycache__/cli.pyc",
                 "build/docker-test/results", "finn_builds/tfc_build/model.onnx"):
        assert _dockerignored(path, patterns), f"{path} would be sent to the build"
    # Sources of COPY and every file under them must stay in the context.
    sources = [src for line in _instructions("COPY") for src in line.split()[1:-1]]
    wanted = [p.relative_to(ROOT).as_posix() for src in sources
              for p in [ROOT / src, *(ROOT / src).rglob("*")]
              if p.is_file() and "__pycache__" not in p.parts]
    assert "bench/foldings/tfc_paper_a.json" in wanted and "Makefile" in wanted
    dropped = [path for path in wanted if _dockerignored(path, patterns)]
    assert not dropped, f"copied into the image but dropped by .dockerignore: {dropped}"


def test_image_base_and_torch_build_are_build_arguments():
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11", DOCKERFILE, re.MULTILINE)
    assert _instructions("FROM") == ["FROM ${BASE_IMAGE}"]
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^ARG TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cpu$",
                     DOCKERFILE, re.MULTILINE)
    # The only pip setting the image itself makes is the torch index from the argument;
    # anything machine-specific comes in through the optional build secrets.
    assert set(re.findall(r"PIP_[A-Z_]+", DOCKERFILE)) == {"PIP_EXTRA_INDEX_URL"}
    assert 'PIP_EXTRA_INDEX_URL="${TORCH_INDEX_URL}"' in DOCKERFILE
    for secret in ("id=pip.conf,target=/etc/pip.conf", "id=pip-ca"):
        assert f"--mount=type=secret,{secret}" in DOCKERFILE
    assert "/opt/wheels" not in DOCKERFILE and "file://" not in DOCKERFILE


def test_image_runs_as_an_unprivileged_user_with_results_on_a_volume():
    users = _instructions("USER")
    assert users and users[-1] not in ("USER root", "USER 0")
    assert DOCKERFILE.index(users[-1]) < DOCKERFILE.index("\nCMD ")
    assert _instructions("CMD") == ['CMD ["make", "reproduce"]']
    assert "/opt/qnn-bench/results" in " ".join(_instructions("VOLUME"))
    assert re.search(r"^reproduce:", MAKEFILE, re.MULTILINE), "no reproduce target"


def _readme_container_commands() -> list[str]:
    """The commands the README runs in the image: `docker run ... qnn-bench <command>`."""
    logical = re.sub(r"\\\n\s*", " ", DOCKER_SECTION)
    return [m.group(1).strip() for m in re.finditer(r"^docker run .* qnn-bench (make .*)$",
                                                    logical, re.MULTILINE)]


def test_docker_test_runs_what_the_readme_shows():
    shown = _readme_container_commands()
    assert len(shown) >= 2, "the README shows no commands run in the image"
    # docker-test.sh's commands, whatever else follows them on the line
    tested = re.findall(r"^in_container (make [A-Za-z_-]+(?: [A-Z_]+=\S+)*)", DOCKER_TEST,
                        re.MULTILINE)
    assert sorted(tested) == sorted(shown)
    # The README builds the image from the Dockerfile docker-test.sh builds.
    built = re.findall(r"docker build (-f \S+)", DOCKER_SECTION)
    assert built and all(flag in DOCKER_TEST for flag in built)


def _path_without_docker(tmp_path: Path) -> str:
    """A PATH with the tools docker-test.sh needs before its engine check, but no docker."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "dirname", "mkdir", "date", "rm", "id", "cat", "grep"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_docker_test_skips_with_a_reason_only_when_asked(tmp_path):
    env = {"PATH": _path_without_docker(tmp_path), "OUT": str(tmp_path / "out")}
    script = str(ROOT / "docker" / "docker-test.sh")
    skipped = subprocess.run(["bash", script, "--if-available"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout.startswith("docker-test skipped: no docker command")
    failed = subprocess.run(["bash", script], env=env, capture_output=True, text=True,
                            timeout=60)
    assert failed.returncode != 0
    assert failed.stderr.startswith("docker-test: error: no docker command")


def test_make_test_runs_docker_test_unless_told_not_to():
    def dry(*variables: str) -> str:
        return subprocess.run(["make", "-n", "test", *variables], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout

    assert "docker/docker-test.sh --if-available" in dry()
    assert "docker-test.sh" not in dry("DOCKER_TEST=no")


def test_quick_reproduction_is_tfc_only_and_make_passes_it_on():
    args = build_parser().parse_args(["reproduce", "--quick"])
    assert args.quick and args.tfc_epochs is None
    points = reproduction_points(**QUICK_SUBSET)
    assert {p.model for p in points} == {"tfc"}
    assert {p.weight_bits for p in points if p.weight_quant == "pot"} == {2, 4}
    assert len(points) < len(reproduction_points()) / 2
    for variables, quick in (([], False), (["QUICK=1"], True), (["QUICK=0"], False)):
        dry = subprocess.run(["make", "-n", "reproduce", *variables], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        line = next(line for line in dry.replace("\\\n", " ").splitlines()
                    if "qnnbench reproduce" in line)
        assert ("--quick" in line.split()) == quick, (variables, line)


def test_results_check_names_every_reproduction_table_and_fails_on_missing_results(tmp_path):
    check = _load("check_results")
    assert [t.key for t in reproduction_tables([], [])] == list(check.TABLES)
    assert check.main([str(tmp_path), "0"]) == 1
    problems = check.check_reproduction(tmp_path)
    assert any("tables.md has 0 tables" in p for p in problems)
    assert any("cnv.csv missing" in p for p in problems)
    assert check.check_bench(tmp_path) == [f"bench: expected 1 record in {tmp_path / 'runs'}, "
                                           "found 0"]


def test_host_pip_settings_reach_the_build_through_a_loopback_server(tmp_path):
    host_pip = _load("host_pip")
    index = tmp_path / "mirror" / "simple" / "demo"
    index.mkdir(parents=True)
    (tmp_path / "mirror" / "files").mkdir()
    (tmp_path / "mirror" / "files" / "demo-1.0.tar.gz").write_bytes(b"demo")
    (index / "index.html").write_text('<a href="../../files/demo-1.0.tar.gz">demo</a>')
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "x-1-py3-none-any.whl").write_bytes(b"wheel")
    ca = tmp_path / "ca.pem"
    ca.write_text("not a real certificate")
    out = tmp_path / "out"
    served = out / "served"
    served.mkdir(parents=True)

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler,
                                                           directory=str(served)))
    translate = host_pip.Translation(served, server.server_address[1])
    config = host_pip.write_config({
        "index-url": "https://pypi.org/simple",
        "extra-index-url": f"file://{tmp_path}/mirror/simple {tmp_path}/missing",
        "find-links": str(wheels), "cert": str(ca), "timeout": "60",
    }, out, translate).read_text()
    translate.link()
    base = translate.base
    assert f"extra-index-url = {base}{tmp_path}/mirror/simple/\n" in config
    assert f"find-links = {base}{wheels}/\n" in config
    assert "index-url = https://pypi.org/simple\n" in config and "timeout = 60\n" in config
    assert "cert = /run/secrets/pip-ca\n" in config and "missing" not in config
    assert (out / "pip-ca").read_text() == "not a real certificate"

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = urllib.request.urlopen(f"{base}{index}/", timeout=5).read().decode()
        link = re.search(r'href="([^"]+)"', page).group(1)
        archive = urllib.request.urlopen(f"{base}{index}/{link}", timeout=5).read()
        assert archive == b"demo"  # the index's relative link resolves on the server
        listing = urllib.request.urlopen(f"{base}{wheels}/", timeout=5).read().decode()
        assert "x-1-py3-none-any.whl" in listing
    finally:
        server.shutdown()
        server.server_close()
