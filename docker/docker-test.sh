#!/usr/bin/env bash
# `make docker-test`: build docker/Dockerfile and run, in a container, what the README's
# Docker section shows: `make bench BITS=2 PE=4` and `make reproduce QUICK=1`, with results
# on a mounted directory, then check them from outside (docker/check_results.py).
#
#   docker/docker-test.sh                 fail if Docker cannot be used
#   docker/docker-test.sh --if-available  print why and succeed instead (what `make test` does)
#
# Steps: find a Docker engine (as root, start dockerd if it is installed but not running);
# find a base image (BASE_IMAGE if it can be pulled, else a Debian bookworm base with Python
# 3.11 made once with debootstrap and kept under the tag LOCAL_BASE); build with this
# machine's pip configuration and CA bundle passed as build secrets (docker/host_pip.py);
# run as the invoking user, or as a stand-in unprivileged uid when invoked as root, so the
# image is never run as root. Timings and the image size go to OUT/summary.txt.
# Each rebuild retags IMAGE; the image it replaces (about 3 GB) is removed, with the build
# cache only it used, so that repeated runs do not fill the disk.
set -euo pipefail
cd "$(dirname "$0")/.."

IF_AVAILABLE=0
case "${1:-}" in
    --if-available) IF_AVAILABLE=1 ;;
    "") ;;
    *) echo "usage: docker/docker-test.sh [--if-available]" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
IMAGE=${IMAGE:-qnn-bench:docker-test}
BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim-bookworm}
LOCAL_BASE=${LOCAL_BASE:-qnnbench-base:bookworm-python3.11}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CPU_TORCH_INDEX=https://download.pytorch.org/whl/cpu
OUT=${OUT:-build/docker-test}
STAND_IN_UID=${STAND_IN_UID:-4242}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
DOCKERD_PID=""
HELPER_PID=""

say() { echo "docker-test: $*"; }
note() { say "$*"; echo "$*" >>"$SUMMARY"; }
unavailable() {
    if [ "$IF_AVAILABLE" = 1 ]; then
        echo "docker-test skipped: $*"
        exit 0
    fi
    echo "docker-test: error: $*" >&2
    exit 1
}
cleanup() {
    if [ -n "$HELPER_PID" ]; then kill "$HELPER_PID" 2>/dev/null || true; fi
    rm -rf "$OUT/pip"
    if [ -n "$DOCKERD_PID" ]; then
        say "stopping the dockerd started for this test"
        kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
now() { date +%s; }

# -- engine ---------------------------------------------------------------------------------
command -v docker >/dev/null || unavailable "no docker command (install Docker, e.g. Debian's docker.io)"
if ! docker info >/dev/null 2>&1; then
    why=$(docker info 2>&1 >/dev/null | grep -m 1 . || true)
    if ! command -v dockerd >/dev/null; then
        unavailable "no Docker engine reachable ($why) and no dockerd installed to start one"
    fi
    if [ "$(id -u)" != 0 ]; then
        unavailable "no Docker engine reachable ($why), and starting dockerd needs root"
    fi
    say "starting dockerd (log: $OUT/dockerd.log)"
    dockerd >"$OUT/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        tail -n 3 "$OUT/dockerd.log" >&2 || true
        unavailable "dockerd did not start (see $OUT/dockerd.log)"
    fi
fi

# BuildKit (build secrets) comes with the buildx plugin, or built in before Docker 23.
DOCKER=""
for cli in $(type -ap docker); do
    major=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1 || true)
    if "$cli" buildx version >/dev/null 2>&1 || { [ -n "$major" ] && [ "$major" -lt 23 ]; }; then
        DOCKER=$cli
        break
    fi
done
[ -n "$DOCKER" ] || unavailable "no docker CLI here builds with BuildKit (install the buildx plugin)"

# -- base image -----------------------------------------------------------------------------
if "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    base=$BASE_IMAGE
elif say "pulling $BASE_IMAGE" && timeout 600 "$DOCKER" pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    base=$BASE_IMAGE
elif "$DOCKER" image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
    base=$LOCAL_BASE
    note "base: $BASE_IMAGE cannot be pulled; using the local base $LOCAL_BASE (cached)"
else
    command -v debootstrap >/dev/null && [ "$(id -u)" = 0 ] \
        || unavailable "$BASE_IMAGE cannot be pulled, and making a local base needs debootstrap and root"
    say "$BASE_IMAGE cannot be pulled; making $LOCAL_BASE with debootstrap"
    t0=$(now)
    rootfs=$OUT/rootfs
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" \
        "$DEBIAN_MIRROR" >"$OUT/debootstrap.log" 2>&1 \
        || { tail -n 5 "$OUT/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | "$DOCKER" import - "$LOCAL_BASE" >/dev/null
    rm -rf "$rootfs"
    base=$LOCAL_BASE
    note "base: $BASE_IMAGE cannot be pulled; made $LOCAL_BASE with debootstrap in $(( $(now) - t0 )) s"
fi

# -- build ----------------------------------------------------------------------------------
rm -rf "$OUT/pip"
mkdir -m 700 "$OUT/pip"
"$PYTHON" docker/host_pip.py "$OUT/pip" >"$OUT/host_pip.log" 2>&1 &
HELPER_PID=$!
for _ in $(seq 50); do [ -f "$OUT/pip/ready" ] && break; sleep 0.2; done
[ -f "$OUT/pip/ready" ] || { cat "$OUT/host_pip.log" >&2; exit 1; }
say "$(cat "$OUT/host_pip.log")"
secrets=(--secret "id=pip.conf,src=$OUT/pip/pip.conf")
[ -f "$OUT/pip/pip-ca" ] && secrets+=(--secret "id=pip-ca,src=$OUT/pip/pip-ca")

# The CPU-only torch index when it answers; otherwise the host's own package sources decide.
if [ -n "${TORCH_INDEX_URL+set}" ]; then
    torch_index=$TORCH_INDEX_URL
elif "$PYTHON" docker/host_pip.py --probe "$CPU_TORCH_INDEX/torch/"; then
    torch_index=$CPU_TORCH_INDEX
else
    torch_index=""
    note "torch: $CPU_TORCH_INDEX unreachable; TORCH_INDEX_URL= (torch from the host's pip sources)"
fi

say "building $IMAGE from $base (log: $OUT/build.log)"
previous=$("$DOCKER" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
t0=$(now)
if ! DOCKER_BUILDKIT=1 "$DOCKER" build --progress plain --network host \
        --build-arg "BASE_IMAGE=$base" --build-arg "TORCH_INDEX_URL=$torch_index" \
        "${secrets[@]}" -f docker/Dockerfile -t "$IMAGE" . >"$OUT/build.log" 2>&1; then
    tail -n 30 "$OUT/build.log" >&2
    echo "docker-test: error: image build failed (log: $OUT/build.log)" >&2
    exit 1
fi
build_s=$(( $(now) - t0 ))
kill "$HELPER_PID" 2>/dev/null || true
HELPER_PID=""
rm -rf "$OUT/pip"
cached=$(grep -c ' CACHED$' "$OUT/build.log" || true)
size=$("$DOCKER" image inspect --format '{{.Size}}' "$IMAGE")
note "build: ${build_s} s ($cached steps cached); image $IMAGE: $(( size / 1000000 )) MB"
if [ -n "$previous" ] && [ "$previous" != "$("$DOCKER" image inspect --format '{{.Id}}' "$IMAGE")" ]; then
    # Only the superseded image and cache no image refers to any more (dangling) go.
    "$DOCKER" rmi "$previous" >/dev/null 2>&1 && "$DOCKER" builder prune -f >/dev/null 2>&1 \
        && note "removed the image this build superseded ($previous) and its dangling build cache"
fi

# -- run ------------------------------------------------------------------------------------
user_uid=$(id -u)
user_gid=$(id -g)
if [ "$user_uid" = 0 ]; then
    run_uid=$STAND_IN_UID
    run_gid=$STAND_IN_UID
    note "run: invoked as root, so the container runs as the stand-in uid $run_uid"
else
    run_uid=$user_uid
    run_gid=$user_gid
fi
image_user=$("$DOCKER" image inspect --format '{{.Config.User}}' "$IMAGE")
case "$image_user" in ""|root|0|0:*) echo "docker-test: error: the image runs as root" >&2; exit 1 ;; esac

results=$OUT/results
rm -rf "$results"
mkdir -p "$results"
[ "$user_uid" = 0 ] && chown "$run_uid:$run_gid" "$results"
in_container() {
    "$DOCKER" run --rm --network none --user "$run_uid:$run_gid" \
        -v "$results:/opt/qnn-bench/results" "$IMAGE" "$@"
}
t0=$(now)
in_container make bench BITS=2 PE=4 >"$OUT/bench.log" 2>&1 \
    || { tail -n 30 "$OUT/bench.log" >&2; echo "docker-test: error: make bench failed" >&2; exit 1; }
note "in container: make bench BITS=2 PE=4: $(( $(now) - t0 )) s"
t0=$(now)
in_container make reproduce QUICK=1 >"$OUT/reproduce.log" 2>&1 \
    || { tail -n 30 "$OUT/reproduce.log" >&2; echo "docker-test: error: make reproduce failed" >&2; exit 1; }
note "in container: make reproduce QUICK=1: $(( $(now) - t0 )) s"

status=0
"$PYTHON" docker/check_results.py "$results" "$run_uid" || status=1
[ "$user_uid" = 0 ] && chown -R "$user_uid:$user_gid" "$results"
if [ "$status" = 0 ]; then
    say "passed; results in $results, summary in $SUMMARY"
else
    echo "docker-test: error: results check failed (results in $results)" >&2
fi
exit "$status"
