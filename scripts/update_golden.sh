#!/usr/bin/env bash
# Rewrites the `# CHECK:` lines of the golden files (tests/testdata/{parse,
# check,eval,fmt}) from kiln's actual output, for review with `git diff`.
# Arguments are passed to the test binary, e.g. --gtest_filter='*parse_fail_*'.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}
bash "$root/scripts/build.sh" kiln kiln_golden_tests
KILN_UPDATE_GOLDEN=1 "$build/tests/kiln_golden_tests" "$@"
