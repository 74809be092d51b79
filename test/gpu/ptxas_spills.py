"""Spills in the kernels of a moe-to-gpu module, from ptxas -v's report: kernels launched on
more than one block (the grouped GEMMs, the combine, element-wise grids) must not spill;
single-block routing kernels may, and are named.

    python3 ptxas_spills.py LOWERED.mlir PTXAS_REPORT     (exit status 1 on a multi-block spill)
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_binary import module_attribute  # noqa: E402

_PROPERTIES = re.compile(r"Function properties for (\S+)\n\s*\d+ bytes stack frame, "
                         r"(\d+) bytes spill stores")


def spills(mlir_text, report):
    """(kernels in the report, multi-block kernels that spill, single-block ones that do)."""
    grids = {}
    for launch in json.loads(module_attribute(mlir_text, "moe.launches")):
        grids[launch["kernel"]] = max(grids.get(launch["kernel"], 1), launch["grid"][0])
    found = _PROPERTIES.findall(report)
    multi = [name for name, stores in found if int(stores) and grids.get(name, 1) > 1]
    single = [name for name, stores in found if int(stores) and grids.get(name, 1) == 1]
    return len(found), multi, single


def main():
    with open(sys.argv[1]) as f:
        mlir_text = f.read()
    with open(sys.argv[2]) as f:
        report = f.read()
    kernels, multi, single = spills(mlir_text, report)
    if multi:
        print(f"spills in multi-block kernels: {', '.join(multi)}")
        return 1
    print(f"{kernels} kernels, no spills in multi-block kernels"
          + (f" (single-block kernels spilling: {', '.join(single)})" if single else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
