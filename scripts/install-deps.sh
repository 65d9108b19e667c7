#!/usr/bin/env bash
# Installs the Debian packages epara's build, tests and demo need. Idempotent: packages
# already present are skipped, and nothing runs apt-get when all are there. Uses sudo when
# not root. Usage: scripts/install-deps.sh [--check]   (--check: list what is missing, exit 1)
set -euo pipefail

PKGS=(
    build-essential cmake ninja-build pkg-config git
    clang clang-format libclang-rt-14-dev   # libFuzzer targets, format check
    libsqlite3-dev sqlite3                  # trace and results store
    libgsl-dev                              # random streams, distributions, statistics
    libcmocka-dev                           # unit tests
    libjansson-dev                          # JSON output and the JSONL importer
    libyaml-dev                             # scenario files (libyaml document API)
    libopenblas-dev                         # BLAS of the cpu engine (exec/)
    libglpk-dev                             # linear programs of the fluid upper bound (bound)
    gnuplot-nox                             # figures
    libmsgpack-dev libsodium-dev            # executor wire protocol: payloads, HMAC tags
    libnng-dev                              # executor transport (nng over TCP)
    iproute2                                # epara testbed --netns: ip netns, veth, tc
    iptables                                # --netns packet loss where tc has no netem
    mpich libmpich-dev                      # epara sweep --mpi (built when CMake finds MPI)
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ "${1:-}" = "--check" ]; then
    [ ${#missing[@]} -eq 0 ] && exit 0
    echo "missing packages: ${missing[*]}" >&2
    exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PKGS[@]} packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
