// RUN: moe-opt %s --linalg-generalize-named-ops --moe-cpu-loop-order | FileCheck %s

// The index maps of @indexed: old n = new d2, old k = new d1.
// CHECK-DAG: affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: affine_map<(d0, d1, d2) -> (d1)>

// A batched matmul: loops (b, m, n, k) become (b, m, k, n), so B[b, k, n]
// and C[b, m, n] are walked along their contiguous last dimension.
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-LABEL: func.func @batch_matmul
// CHECK: linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[C]]], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
func.func @batch_matmul(%a: tensor<4x8x16xf32>, %b: tensor<4x16x32xf32>, %c: tensor<4x8x32xf32>) -> tensor<4x8x32xf32> {
  %0 = linalg.batch_matmul ins(%a, %b : tensor<4x8x16xf32>, tensor<4x16x32xf32>) outs(%c : tensor<4x8x32xf32>) -> tensor<4x8x32xf32>
  return %0 : tensor<4x8x32xf32>
}

// A matmul on a dynamic number of rows (a grouped GEMM's expert): the same.
// CHECK-LABEL: func.func @matmul
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "parallel"]}
func.func @matmul(%a: tensor<?x16xf32>, %b: tensor<16x32xf32>, %c: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<?x16xf32>, tensor<16x32xf32>) outs(%c : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// A reduction whose operands do not read along the output's last dimension
// and a reduction (an arg-max over rows, a row sum) keeps its order.
// CHECK-LABEL: func.func @row_sum
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]}
func.func @row_sum(%x: tensor<2x8x16xf32>, %init: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(g, r, n) -> (g, r, n)>, affine_map<(g, r, n) -> (g, r)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : tensor<2x8x16xf32>) outs(%init : tensor<2x8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  } -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// linalg.index in the body follows the interchange: the old n and k are
// read back from the new loop positions.
// CHECK-LABEL: func.func @indexed
// CHECK: iterator_types = ["parallel", "reduction", "parallel"]
// CHECK: %[[N:.*]] = affine.apply #{{.*}}(%{{.*}}, %{{.*}}, %{{.*}})
// CHECK: %[[K:.*]] = affine.apply #{{.*}}(%{{.*}}, %{{.*}}, %{{.*}})
// CHECK: arith.addi %[[K]], %[[N]]
func.func @indexed(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %c: tensor<8x32xf32>) -> tensor<8x32xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%c : tensor<8x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %i = arith.addi %k, %n : index
    %j = arith.index_cast %i : index to i32
    %f = arith.sitofp %j : i32 to f32
    %p = arith.mulf %x, %y : f32
    %q = arith.addf %p, %f : f32
    %s = arith.addf %acc, %q : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  return %0 : tensor<8x32xf32>
}
