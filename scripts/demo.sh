#!/usr/bin/env bash
# Sets up, builds, and runs the main job: checks every example, then applies
# examples/llm-finetune-serve with the built-in local provider (simulated GPUs,
# real processes: a fine-tune job and a serving endpoint), shows its outputs,
# plans again (no changes expected) and destroys it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}
bash "$root/scripts/build.sh" kiln
kiln="$build/kiln"

for dir in "$root"/examples/*/; do
  compgen -G "$dir*.kiln" >/dev/null || continue
  echo "== validate + fmt --check: examples/$(basename "$dir")"
  "$kiln" -C "$dir" validate
  "$kiln" -C "$dir" fmt --check
done

# Apply in a scratch copy so that the example folder stays clean.
work="$build/demo/llm-finetune-serve"
rm -rf "$work" && mkdir -p "$work"
cp -r "$root/examples/llm-finetune-serve/." "$work/"
trap '"$kiln" -C "$work" destroy --auto-approve >/dev/null 2>&1 || true' EXIT
echo "== kiln apply (examples/llm-finetune-serve, local provider)"
"$kiln" -C "$work" apply --auto-approve
echo "== kiln output"
"$kiln" -C "$work" output
echo "== kiln plan (expect no changes)"
"$kiln" -C "$work" plan --detailed-exitcode
echo "== kiln destroy"
"$kiln" -C "$work" destroy --auto-approve
trap - EXIT
