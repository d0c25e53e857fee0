#!/usr/bin/env python3
"""Golden-file runner: runs `kiln` on a test file and compares its output with
the expectations written at the end of that file.

A test file may start with `# RUN: <kiln args>` (default `debug ast %s`):
  %s  the test file's path
  %t  a fresh temporary directory holding a copy of the file as main.kiln
The runner adds `--no-color`, removes the temporary directory and the test
file's directory from the output (so paths are stable), and compares with
the trailing comment lines
  # CHECK:STDOUT: <line>     (exact, in order)
  # CHECK:STDERR: <line>
  # CHECK:EXIT: <n>          (default 0, or 1 for files named fail_*)
A file named fail_* must exit non-zero.

Usage: golden.py KILN_BINARY FILE            run one test
       golden.py KILN_BINARY --update FILE... rewrite expectations
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

CHECK_RE = re.compile(r"^# CHECK:(STDOUT|STDERR|EXIT):(?: (.*))?$")


def split_checks(text):
    """Returns (content, checks): the checks are the trailing CHECK lines
    (and blank lines between them); content is everything above."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    end = len(lines)
    start = end
    while start > 0 and (CHECK_RE.match(lines[start - 1]) or (lines[start - 1] == "" and start < end)):
        start -= 1
    checks = [CHECK_RE.match(l) for l in lines[start:end] if l != ""]
    # The blank line that update() puts above the checks is not content.
    body = lines[:start]
    while body and body[-1] == "":
        body.pop()
    content = "\n".join(body)
    if body:
        content += "\n"
    return content, [(m.group(1), m.group(2) or "") for m in checks]


def run_args(content, src_copy, tdir):
    first = content.split("\n", 1)[0]
    if first.startswith("# RUN:"):
        args = shlex.split(first[len("# RUN:"):].strip())
    else:
        args = ["debug", "ast", "%s"]
    return [a.replace("%s", src_copy).replace("%t", tdir) for a in args]


def normalize(text, path, tmpdir):
    directory = os.path.dirname(os.path.abspath(path))
    for prefix in (tmpdir + "/src/", tmpdir + "/t/", tmpdir + "/t", tmpdir + "/", tmpdir,
                   directory + "/"):
        text = text.replace(prefix, "")
    rel = os.path.dirname(path)
    if rel and rel != directory:
        text = text.replace(rel + "/", "")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # Trailing spaces are invisible in a test file; strip them.
    return [l.rstrip() for l in lines]


def run(kiln, path):
    kiln = os.path.abspath(kiln)
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    content, checks = split_checks(text)
    tmpdir = tempfile.mkdtemp(prefix="kiln-golden-")
    try:
        # kiln sees only the content: %s is a copy of the file without the
        # CHECK lines (same name), %t a directory with it as main.kiln. Both
        # directories are removed from the output.
        src_dir = os.path.join(tmpdir, "src")
        t_dir = os.path.join(tmpdir, "t")
        os.makedirs(src_dir)
        os.makedirs(t_dir)
        src_copy = os.path.join(src_dir, os.path.basename(path))
        for target in (src_copy, os.path.join(t_dir, "main.kiln")):
            with open(target, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(content)
        args = [kiln, "--no-color"] + run_args(content, src_copy, t_dir)
        env = dict(os.environ)
        env["NO_COLOR"] = "1"
        proc = subprocess.run(args, capture_output=True, cwd=os.path.dirname(os.path.abspath(path)),
                              env=env, timeout=120)
        stdout = normalize(proc.stdout.decode("utf-8", "replace"), path, tmpdir)
        stderr = normalize(proc.stderr.decode("utf-8", "replace"), path, tmpdir)
        return content, checks, stdout, stderr, proc.returncode
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def expected_exit(path, checks):
    for kind, value in checks:
        if kind == "EXIT":
            return int(value)
    return 1 if os.path.basename(path).startswith("fail_") else 0


def check(kiln, path):
    content, checks, stdout, stderr, code = run(kiln, path)
    want_out = [v for k, v in checks if k == "STDOUT"]
    want_err = [v for k, v in checks if k == "STDERR"]
    want_exit = expected_exit(path, checks)
    ok = True
    if os.path.basename(path).startswith("fail_") and code == 0:
        print(f"{path}: a fail_ test must exit non-zero, but kiln exited 0")
        ok = False
    if code != want_exit:
        print(f"{path}: exit code {code}, expected {want_exit}")
        ok = False
    for name, want, got in (("stdout", want_out, stdout), ("stderr", want_err, stderr)):
        if want != got:
            ok = False
            print(f"{path}: {name} differs")
            import difflib
            for line in difflib.unified_diff(want, got, "expected", "actual", lineterm=""):
                print("  " + line)
    if not ok:
        print(f"(run scripts/update_golden.py {path} to accept the new output)")
    return ok


def update(kiln, path):
    content, checks, stdout, stderr, code = run(kiln, path)
    lines = [content.rstrip("\n"), ""]
    for l in stdout:
        lines.append(("# CHECK:STDOUT: " + l).rstrip())
    for l in stderr:
        lines.append(("# CHECK:STDERR: " + l).rstrip())
    default_exit = 1 if os.path.basename(path).startswith("fail_") else 0
    if code != default_exit:
        lines.append(f"# CHECK:EXIT: {code}")
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("\n".join(lines) + "\n")
    return code


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    kiln = os.path.abspath(argv[1])
    if argv[2] == "--update":
        for path in argv[3:]:
            update(kiln, path)
        return 0
    ok = all([check(kiln, p) for p in argv[2:]])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
