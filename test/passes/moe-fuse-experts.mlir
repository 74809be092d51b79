// RUN: moe-opt %s --moe-fuse-experts | FileCheck %s

// The data path of moe-materialize-plan becomes one gather-GEMM-epilogue-
// GEMM-scatter computation: the gather is the up projection's `gather`
// operand (no gathered copy), the combine weights are the down projection's
// `scale` epilogue (scattered to the rows they weight, 0 for unused rows),
// and the scatter-add adds the prescaled rows in the same order.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: (%[[X:.*]]: tensor<8x6xf32>, %[[RT:.*]]: tensor<16xi32>, %[[OFF:.*]]: tensor<5xi32>, %[[TR:.*]]: tensor<1x8x2xi32>, %[[W:.*]]: tensor<1x8x2xf32>, %[[W1:.*]]: tensor<4x6x10xf32>, %[[B1:.*]]: tensor<4x10xf32>, %[[W2:.*]]: tensor<4x10x6xf32>)
// CHECK-NOT: moe.gather_rows
// CHECK: %[[H:.*]] = moe.grouped_matmul %[[X]] gather(%[[RT]] : tensor<16xi32>), %[[W1]] offsets %[[OFF]] bias(%[[B1]] : tensor<4x10xf32>) into %{{.*}} {activation = #moe<activation gelu>} : tensor<8x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<16x10xf32>
// CHECK: %[[ZEROS:.*]] = linalg.fill {{.*}} -> tensor<16xf32>
// CHECK: %[[RW:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[ZEROS]]) -> (tensor<16xf32>)
// CHECK:   scf.for
// CHECK:     scf.for
// CHECK:       %[[ROW:.*]] = tensor.extract %[[TR]]
// CHECK:       scf.if
// CHECK:         tensor.extract %[[W]]
// CHECK:         tensor.insert
// CHECK: %[[Y:.*]] = moe.grouped_matmul %[[H]], %[[W2]] offsets %[[OFF]] scale(%[[RW]] : tensor<16xf32>) into %{{.*}} : tensor<16x10xf32>, tensor<4x10x6xf32>, tensor<5xi32> into tensor<16x6xf32>
// CHECK: moe.scatter_add_rows %[[Y]], %[[TR]], %[[W]] into %{{.*}} {prescaled}
func.func @chain(%x: tensor<8x6xf32>, %rt: tensor<16xi32>, %off: tensor<5xi32>, %tr: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>,
                 %w1: tensor<4x6x10xf32>, %b1: tensor<4x10xf32>, %w2: tensor<4x10x6xf32>) -> tensor<1x8x6xf32> {
  %e0 = tensor.empty() : tensor<16x6xf32>
  %a = moe.gather_rows %x[%rt] into %e0 : tensor<8x6xf32>, tensor<16xi32> into tensor<16x6xf32>
  %e1 = tensor.empty() : tensor<16x10xf32>
  %h = moe.grouped_matmul %a, %w1 offsets %off bias(%b1 : tensor<4x10xf32>) into %e1 {activation = #moe<activation gelu>} : tensor<16x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<16x10xf32>
  %e2 = tensor.empty() : tensor<16x6xf32>
  %y = moe.grouped_matmul %h, %w2 offsets %off into %e2 : tensor<16x10xf32>, tensor<4x10x6xf32>, tensor<5xi32> into tensor<16x6xf32>
  %z = tensor.empty() : tensor<1x8x6xf32>
  %o = moe.scatter_add_rows %y, %tr, %w into %z : tensor<16x6xf32>, tensor<1x8x2xi32>, tensor<1x8x2xf32> into tensor<1x8x6xf32>
  return %o : tensor<1x8x6xf32>
}

// A gathered copy with another user stays: the GEMM reads the copy.
// CHECK-LABEL: func.func @shared_gather
// CHECK: %[[A:.*]] = moe.gather_rows
// CHECK: moe.grouped_matmul %[[A]], %{{.*}} offsets
// CHECK: return %[[A]],
func.func @shared_gather(%x: tensor<8x6xf32>, %rt: tensor<16xi32>, %off: tensor<5xi32>, %w1: tensor<4x6x10xf32>) -> (tensor<16x6xf32>, tensor<16x10xf32>) {
  %e0 = tensor.empty() : tensor<16x6xf32>
  %a = moe.gather_rows %x[%rt] into %e0 : tensor<8x6xf32>, tensor<16xi32> into tensor<16x6xf32>
  %e1 = tensor.empty() : tensor<16x10xf32>
  %h = moe.grouped_matmul %a, %w1 offsets %off into %e1 : tensor<16x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<16x10xf32>
  return %a, %h : tensor<16x6xf32>, tensor<16x10xf32>
}
