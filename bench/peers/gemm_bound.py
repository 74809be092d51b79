"""The GEMM bound of a layer: the experts' two GEMMs alone on the rows the plan keeps.

    python3 bench/peers/gemm_bound.py --mlir examples/L1.mlir --data DIR --rows 410,398,...
        --threads 1 --runs 10 --backend numpy|torch [--device cuda [--tf32]]

For each expert e: ``h = a_e @ w_up[e]`` and ``h[:, :hidden] @ w_down[e]`` with a_e a fixed
random [rows[e], d] matrix and the layer's real weights; no bias, activation, gather or
combine, i.e. the layer with routing and data movement costing nothing (for SwiGLU the up
GEMM has 2h columns, the down GEMM reads h of them).  ``numpy`` is NumPy's BLAS (OpenBLAS in
the system NumPy; runs without the bench's venv), ``torch`` is torch.matmul (MKL in the PyPI
wheel; cuBLAS with ``--device cuda``, in f32 unless ``--tf32``).  Prints one JSON line: median and minimum ms of --runs runs after a warm-up, and the
FLOPs.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main() -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--rows", required=True, help="comma-separated kept rows per expert")
    p.add_argument("--backend", choices=("numpy", "torch"), default="numpy")
    p.add_argument("--tf32", action="store_true",
                   help="--device cuda: let cuBLAS read f32 inputs as tf32")
    args = p.parse_args()
    if args.device == "cuda" and args.backend != "torch":
        p.error("--device cuda needs --backend torch")
    common.start(args)

    import numpy as np
    import moe_ir
    from safetensors_io import read_safetensors

    fn = moe_ir.parse_moe_file(args.mlir)
    arrays, _ = read_safetensors(os.path.join(args.data, "weights.safetensors"))
    rows = [int(r) for r in args.rows.split(",")]
    w1, w2 = np.array(arrays[fn.experts.up.name]), np.array(arrays[fn.experts.down.name])
    del arrays  # the file's bytes: w1 and w2 are copies
    if len(rows) != w1.shape[0]:
        common.report({"error": f"{len(rows)} row counts for {w1.shape[0]} experts"})
        return 2
    d, hidden = w1.shape[1], w2.shape[1]
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((r, d)).astype(np.float32) for r in rows]
    flops = sum(2 * r * (d * w1.shape[2] + hidden * w2.shape[2]) for r in rows)
    result = {"backend": args.backend, "cpus": sorted(os.sched_getaffinity(0)),
              "flops": flops}

    if args.backend == "numpy":
        def once():
            for i, a in enumerate(inputs):
                if a.shape[0]:
                    h = a @ w1[i]
                    np.matmul(h[:, :hidden], w2[i])
        result["numpy"] = np.__version__
    else:
        import torch

        torch.set_num_threads(args.threads)
        # On the GPU: cuBLAS in f32 (no tf32) unless --tf32.
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        device = torch.device(args.device)
        tw1, tw2 = torch.from_numpy(w1).to(device), torch.from_numpy(w2).to(device)
        tin = [torch.from_numpy(a).to(device) for a in inputs]

        def products():
            with torch.no_grad():
                for i, a in enumerate(tin):
                    if a.shape[0]:
                        h = torch.matmul(a, tw1[i])
                        torch.matmul(h[:, :hidden], tw2[i])
        once = common.synchronized(products, args.device)
        result["torch"] = torch.__version__
        result["threads"] = torch.get_num_threads()
        result["device"] = args.device
        if args.device == "cuda":
            result["gpu"] = torch.cuda.get_device_name()
            result["tf32"] = args.tf32

    result.update(common.timed(once, args.runs))
    common.report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
