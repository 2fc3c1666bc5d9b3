"""Hand this machine's pip configuration to `docker build` (used by docker/docker-test.sh).

    python3 docker/host_pip.py OUTDIR      write OUTDIR/pip.conf (+ OUTDIR/pip-ca), serve, wait
    python3 docker/host_pip.py --probe URL exit 0 if URL answers within 10 s

The build gets the host's settings as build secrets (`pip.conf`, `pip-ca`), so nothing of
this machine is written into the image or the repository. Settings that name local paths
(find-links directories, file:// indexes, constraint files) cannot be seen from inside the
build, so the directories they name are served read-only over HTTP on 127.0.0.1 for as long
as this process runs, and the written pip.conf points at that server (the build runs with
`--network host`). OUTDIR/ready appears once the server is listening.
"""

from __future__ import annotations

import ast
import functools
import http.server
import os
import shutil
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

# Settings whose values are locations; every other setting is passed through unchanged.
LOCATION_KEYS = {"index-url", "extra-index-url", "find-links", "constraint", "requirement"}
SECTION_ORDER = {"global": 0, "install": 1, ":env:": 2}  # later wins, as in pip
CA_SECRET = "/run/secrets/pip-ca"


def host_settings() -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
    )
    if out.returncode != 0:  # no pip on this interpreter: nothing to pass on
        return {}
    found: list[tuple[int, str, str]] = []
    for line in out.stdout.splitlines():
        name, sep, raw = line.partition("=")
        section, _, key = name.rpartition(".")
        if not sep or section not in SECTION_ORDER:
            continue
        try:
            value = ast.literal_eval(raw)
        except (SyntaxError, ValueError):
            value = raw
        found.append((SECTION_ORDER[section], key, str(value)))
    return {key: value for _, key, value in sorted(found, key=lambda item: item[0])}


def _local_path(location: str) -> Path | None:
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if not parsed.scheme and location.startswith(("/", ".", "~")):
        return Path(location).expanduser()
    return None


class Translation:
    """Maps local paths to URLs on the server, which mirrors them under their own paths.

    An index directory is served together with its parent, because local indexes commonly
    link to their files relatively (`simple/<name>/` -> `../../files/...`).
    """

    def __init__(self, serve_dir: Path, port: int) -> None:
        self.serve_dir = serve_dir
        self.base = f"http://127.0.0.1:{port}"
        self.roots: set[Path] = set()

    def location(self, location: str, index: bool) -> str | None:
        path = _local_path(location)
        if path is None:
            return location
        if not path.exists():
            return None  # pip skips missing local locations; so does the build
        path = path.resolve()
        self.roots.add(path.parent if index and path.parent != path else path)
        return self.base + urllib.parse.quote(str(path)) + ("/" if path.is_dir() else "")

    def link(self) -> None:
        """Symlink each served root at its mirrored place (outermost first, nested skipped)."""
        linked: list[Path] = []
        for root in sorted(self.roots, key=lambda r: len(r.parts)):
            if any(root.is_relative_to(done) for done in linked):
                continue
            mirror = self.serve_dir / root.relative_to(root.anchor)
            mirror.parent.mkdir(parents=True, exist_ok=True)
            mirror.symlink_to(root)
            linked.append(root)


def write_config(settings: dict[str, str], out: Path, translate: Translation) -> Path:
    lines = ["[global]"]
    for key, value in settings.items():
        if key == "cert":
            if Path(value).is_file():
                shutil.copyfile(value, out / "pip-ca")
                lines.append(f"cert = {CA_SECRET}")
            continue
        if key in LOCATION_KEYS:
            index = key.endswith("index-url")
            kept = [v for v in (translate.location(item, index) for item in value.split()) if v]
            if not kept:
                continue
            value = " ".join(kept)
        lines.append(f"{key} = {value}")
    path = out / "pip.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(out: Path) -> None:
    serve_dir = out / "served"
    serve_dir.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_Quiet, directory=str(serve_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    translate = Translation(serve_dir, server.server_address[1])
    config = write_config(host_settings(), out, translate)
    translate.link()
    (out / "ready").write_text(f"{config}\n")
    served = ", ".join(str(root) for root in sorted(translate.roots)) or "nothing"
    print(f"host pip settings -> {config}; serving {served} on {translate.base}", flush=True)
    server.serve_forever()


def probe(url: str) -> int:
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    try:
        with urllib.request.urlopen(url, timeout=10, context=context):
            return 0
    except OSError:
        return 1


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--probe":
        return probe(argv[1])
    if len(argv) != 1:
        print("usage: host_pip.py OUTDIR | --probe URL", file=sys.stderr)
        return 2
    serve(Path(argv[0]).resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
