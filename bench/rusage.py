"""Runs a command and writes its peak resident set size (MiB) to a file.

    python3 -S bench/rusage.py RSS_FILE -- COMMAND [ARGS...]

Standard streams pass through; the exit status is the command's (128 + N for a signal).
The peak is ``ru_maxrss`` of the command's process from ``os.wait4``.  It runs through this
small process because Linux counts into a process's ``ru_maxrss`` the resident size of the
process it was forked from (the high-water mark is carried over ``exec``): forked straight
from bench/run.py, which holds the layer's data, every child would report at least the
harness's size.  Forked from here, the floor is this interpreter's few MiB.
"""
import os
import subprocess
import sys


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print("usage: rusage.py RSS_FILE -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    proc = subprocess.Popen(sys.argv[3:])
    _, status, usage = os.wait4(proc.pid, 0)
    with open(sys.argv[1], "w") as f:
        f.write(f"{usage.ru_maxrss / 1024:.1f}\n")
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
