// RUN: moe-opt %s --split-input-file --moe-gpu-lower-data-path | FileCheck %s

// The up projection of the padded layout (uniform groups of 3 rows): one
// generic over the result, the row's expert a division, A read by index
// (-1: zeros), k summed onto the bias, gelu.
// CHECK-LABEL: func.func @padded(
// CHECK-NOT: moe.grouped_matmul
// CHECK: linalg.generic {indexing_maps = [#{{.*}}], iterator_types = ["parallel", "parallel"]} outs(%{{.*}} : tensor<12x8xf32>)
// CHECK: %[[R:.*]] = linalg.index 0
// CHECK: %[[Q:.*]] = linalg.index 1
// CHECK: %[[D:.*]] = arith.divui %[[R]], %c3
// CHECK: %[[E:.*]] = arith.select %{{.*}}, %[[D]], %c-1
// CHECK: scf.if
// CHECK: tensor.extract %{{.*}}[%[[E]], %[[Q]]] : tensor<4x8xf32>
// CHECK: tensor.extract %{{.*}}[%[[R]]] : tensor<12xi32>
// CHECK: scf.for
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: math.erf
func.func @padded(%x: tensor<6x16xf32>, %idx: tensor<12xi32>, %w: tensor<4x16x8xf32>,
                  %b: tensor<4x8xf32>, %init: tensor<12x8xf32>) -> tensor<12x8xf32> {
  %off = arith.constant dense<[0, 3, 6, 9, 12]> : tensor<5xi32>
  %y = moe.grouped_matmul %x gather(%idx : tensor<12xi32>), %w offsets %off
      bias(%b : tensor<4x8xf32>) into %init {activation = #moe<activation gelu>}
      : tensor<6x16xf32>, tensor<4x16x8xf32>, tensor<5xi32> into tensor<12x8xf32>
  return %y : tensor<12x8xf32>
}

// -----

// Ragged groups (the sorted layout): the expert is searched in the offsets;
// rows outside every group keep the init. swiglu sums two columns (q and
// q + P/2) and the row scale multiplies the result.
// CHECK-LABEL: func.func @ragged(
// CHECK: linalg.generic
// CHECK: %[[R:.*]] = linalg.index 0
// CHECK: %[[Q:.*]] = linalg.index 1
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %c-1) -> (index)
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi slt
// CHECK: %[[OUT:.*]] = arith.cmpi slt, %{{.*}}, %c0
// CHECK: scf.if %[[OUT]] -> (f32)
// CHECK-NEXT: scf.yield %{{.*}} : f32
// CHECK: arith.addi %[[Q]], %c4
// CHECK: scf.for {{.*}} -> (f32, f32)
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: tensor.extract %{{.*}}[%[[R]]] : tensor<10xf32>
func.func @ragged(%x: tensor<10x16xf32>, %w: tensor<3x16x8xf32>, %off: tensor<4xi32>,
                  %s: tensor<10xf32>, %init: tensor<10x4xf32>) -> tensor<10x4xf32> {
  %y = moe.grouped_matmul %x, %w offsets %off scale(%s : tensor<10xf32>) into %init
      {activation = #moe<activation swiglu>}
      : tensor<10x16xf32>, tensor<3x16x8xf32>, tensor<4xi32> into tensor<10x4xf32>
  return %y : tensor<10x4xf32>
}
