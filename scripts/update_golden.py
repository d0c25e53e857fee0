#!/usr/bin/env python3
"""Rewrites the `# CHECK:` lines of golden test files from kiln's actual
output, for review with `git diff`.

Usage: scripts/update_golden.py [--kiln PATH] [FILES...]
Without FILES, every tests/testdata/**/*.kiln is updated. The kiln binary
defaults to $KILN, then build/kiln.
"""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
import golden  # noqa: E402


def main(argv):
    args = argv[1:]
    kiln = os.environ.get("KILN", os.path.join(ROOT, "build", "kiln"))
    if len(args) >= 2 and args[0] == "--kiln":
        kiln = args[1]
        args = args[2:]
    if not os.path.exists(kiln):
        print(f"kiln binary not found at {kiln}; pass --kiln PATH or set KILN")
        return 2
    files = args or sorted(glob.glob(os.path.join(ROOT, "tests", "testdata", "**", "*.kiln"),
                                     recursive=True))
    for path in files:
        golden.update(kiln, path)
        print(f"updated {os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
