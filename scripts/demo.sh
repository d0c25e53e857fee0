#!/usr/bin/env bash
# Sets up, builds, and runs the main job: validates and format-checks every
# example under examples/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}
bash "$root/scripts/build.sh" kiln
kiln="$build/kiln"
for dir in "$root"/examples/*/; do
  [ -n "$(ls "$dir"/*.kiln 2>/dev/null)" ] || continue
  echo "== $(basename "$dir")"
  "$kiln" -C "$dir" validate
  "$kiln" -C "$dir" fmt --check
done
