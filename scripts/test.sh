#!/usr/bin/env bash
# Sets up, builds and runs every test: the GoogleTest suites, the golden files
# and the end-to-end scripts, all through CTest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}
bash "$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
