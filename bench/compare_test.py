#!/usr/bin/env python3
"""CTest `bench_compare_pipeline`: bench/compare at N=100, one run. Fails
unless every tool and phase ran and saw every generated object (compare
checks the counts each tool reports), the CSV holds one row per tool and
phase, and the plot was written. No timing is asserted."""
import argparse
import csv
import os
import shutil
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--build", required=True)
ap.add_argument("--work", required=True)
a = ap.parse_args()
shutil.rmtree(a.work, ignore_errors=True)
out = os.path.join(a.work, "results")
p = subprocess.run([sys.executable, os.path.join(here, "compare"), "--sizes", "100", "--runs", "1",
                    "--build", a.build, "--work", os.path.join(a.work, "platforms"), "--out", out],
                   capture_output=True, text=True)
sys.stdout.write(p.stdout)
sys.stderr.write(p.stderr)
if p.returncode != 0:
    sys.exit("compare failed with exit status %d" % p.returncode)
with open(os.path.join(out, "compare.csv")) as f:
    rows = list(csv.DictReader(f))
want = {("kiln", "validate"), ("hcl", "validate"), ("jsonnet", "validate"), ("kiln", "plan-norefresh"),
        ("kiln", "plan-refresh")}
got = {(r["tool"], r["phase"]) for r in rows}
if got != want:
    sys.exit("compare.csv rows %s, want %s" % (sorted(got), sorted(want)))
for r in rows:
    if r["n"] != "100" or r["objects"] != "100" or r["runs"] != "1":
        sys.exit("bad row %s" % r)
    if not float(r["median_s"]) > 0 or not float(r["peak_rss_mib"]) > 0:
        sys.exit("row without a time or memory figure: %s" % r)
if not p.stdout.count("N=100;") == 1:
    sys.exit("no summary line for N=100 in %r" % p.stdout)
png = os.path.join(out, "compare.png")
with open(png, "rb") as f:
    if f.read(8) != b"\x89PNG\r\n\x1a\n":
        sys.exit("%s is not a PNG" % png)
shutil.rmtree(a.work, ignore_errors=True)
print("bench_compare_pipeline: %d rows, counts agree, plot written" % len(rows))
