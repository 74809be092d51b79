"""The dense operations whole models are made of (linalg.matmul, linalg.softmax, reductions
and elementwise math in linalg.generic), compiled by moe-compile and run from Python, against
NumPy."""

import numpy as np

from paths import moe_compile  # noqa: E402  (puts the package on sys.path)
from moe_mlir import Model  # noqa: E402

DENSE = """
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @dense(%x: tensor<8x16xf32> {moe.input = "x"}, %w: tensor<16x16xf32> {moe.weight = "w"},
                 %scale: tensor<16xf32> {moe.weight = "scale"}) -> (tensor<8x16xf32> {moe.output = "out"}) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x16xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<8x16xf32>) -> tensor<8x16xf32>
  %m = linalg.matmul ins(%x, %w : tensor<8x16xf32>, tensor<16x16xf32>) outs(%f : tensor<8x16xf32>) -> tensor<8x16xf32>
  %e1 = tensor.empty() : tensor<8xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%m : tensor<8x16xf32>) outs(%f1 : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %sm = linalg.softmax dimension(1) ins(%m : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) -> tensor<8x16xf32>
  %out = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sm, %sum, %scale : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %o: f32):
    %t = math.tanh %b : f32
    %p = arith.mulf %a, %t : f32
    %q = arith.mulf %p, %c : f32
    linalg.yield %q : f32
  } -> tensor<8x16xf32>
  return %out : tensor<8x16xf32>
}
"""


def test_matmul_softmax_reduction_and_math(tmp_path):
    mlir, so = tmp_path / "dense.mlir", tmp_path / "dense.so"
    mlir.write_text(DENSE)
    moe_compile(mlir, so)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16)).astype(np.float32)
    w = rng.standard_normal((16, 16)).astype(np.float32)
    scale = rng.standard_normal(16).astype(np.float32)
    with Model(so, threads=2) as model:
        model.bind_weights({"w": w, "scale": scale})
        got = model.run(x=x)["out"]
    m = x.astype(np.float64) @ w
    e = np.exp(m - m.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True) * np.tanh(m.sum(axis=1))[:, None] * scale
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
