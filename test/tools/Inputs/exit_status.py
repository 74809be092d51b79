"""Runs a command, passing its output through, then prints its exit status, so
a lit test can tell "a check failed" (1) from "an error" (2), which `not`
cannot. Usage: exit_status.py COMMAND [ARGS...]"""
import subprocess
import sys

sys.stdout.flush()
status = subprocess.call(sys.argv[1:], stderr=subprocess.STDOUT)
print(f"exit status: {status}")
