// RUN: moe-opt %s --moe-gpu-parallel-dims-outer | FileCheck %s

// A column sum over tokens (g parallel, s reduction, e parallel): the parallel
// dimensions come first, the reduction last; the maps follow.
// CHECK-DAG: #[[IN:.*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[SWAP:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @column_sum(
// CHECK: linalg.generic {indexing_maps = [#[[IN]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: arith.addf
func.func @column_sum(%x: memref<2x100x8xf32>, %sum: memref<2x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(g, s, e) -> (g, s, e)>,
                                   affine_map<(g, s, e) -> (g, e)>],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x : memref<2x100x8xf32>) outs(%sum : memref<2x8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %acc, %v : f32
    linalg.yield %r : f32
  }
  return
}

// linalg.index follows its dimension: s, first before, is now dimension 1.
// CHECK-LABEL: func.func @indexed(
// CHECK: iterator_types = ["parallel", "reduction"]
// CHECK: %[[I0:.*]] = linalg.index 0
// CHECK: %[[I1:.*]] = linalg.index 1
// CHECK: %[[S:.*]] = affine.apply #[[SWAP]](%[[I0]], %[[I1]])
// CHECK: %[[E:.*]] = affine.apply
// CHECK: arith.addi %[[S]], %[[E]]
func.func @indexed(%x: memref<100x8xi64>, %out: memref<8xi64>) {
  linalg.generic {indexing_maps = [affine_map<(s, e) -> (s, e)>, affine_map<(s, e) -> (e)>],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<100x8xi64>) outs(%out : memref<8xi64>) {
  ^bb0(%v: i64, %acc: i64):
    %s = linalg.index 0 : index
    %e = linalg.index 1 : index
    %i = arith.addi %s, %e : index
    %c = arith.index_cast %i : index to i64
    %r = arith.addi %acc, %c : i64
    linalg.yield %r : i64
  }
  return
}

// Already parallel first: unchanged.
// CHECK-LABEL: func.func @row_sum(
// CHECK: iterator_types = ["parallel", "reduction"]
// CHECK-SAME: ins(%{{.*}} : memref<8x100xf32>)
func.func @row_sum(%x: memref<8x100xf32>, %sum: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(e, s) -> (e, s)>, affine_map<(e, s) -> (e)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x100xf32>) outs(%sum : memref<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %acc, %v : f32
    linalg.yield %r : f32
  }
  return
}
