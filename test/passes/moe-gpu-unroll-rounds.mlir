// RUN: moe-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(moe-gpu-unroll-rounds,canonicalize))' | FileCheck %s
// RUN: moe-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(moe-gpu-unroll-rounds{max-trip-count=1}))' | FileCheck %s --check-prefix=ONE

// Two rounds of parallel work (canonicalized after): the body twice, the
// second round reading the first's result, the insert offsets 0 and 1.
// CHECK-LABEL: func.func @rounds(
// CHECK-NOT: scf.for
// CHECK: %[[R0:.*]] = linalg.generic
// CHECK: tensor.insert_slice %[[R0]] into %{{.*}}[0, 0] [8, 1]
// CHECK: %[[R1:.*]] = linalg.generic {{.*}} ins(%[[R0]] :
// CHECK: tensor.insert_slice %[[R1]] into %{{.*}}[0, 1] [8, 1]
// CHECK-NOT: scf.for
// ONE-LABEL: func.func @rounds(
// ONE: scf.for
func.func @rounds(%x: tensor<8xf32>) -> tensor<8x2xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %init = tensor.empty() : tensor<8x2xf32>
  %r:2 = scf.for %j = %c0 to %c2 step %c1 iter_args(%acc = %init, %prev = %x) -> (tensor<8x2xf32>, tensor<8xf32>) {
    %e = tensor.empty() : tensor<8xf32>
    %next = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                            iterator_types = ["parallel"]}
        ins(%prev : tensor<8xf32>) outs(%e : tensor<8xf32>) {
    ^bb0(%in: f32, %out: f32):
      %y = arith.addf %in, %in : f32
      linalg.yield %y : f32
    } -> tensor<8xf32>
    %ins = tensor.insert_slice %next into %acc[0, %j] [8, 1] [1, 1] : tensor<8xf32> into tensor<8x2xf32>
    scf.yield %ins, %next : tensor<8x2xf32>, tensor<8xf32>
  }
  return %r#0 : tensor<8x2xf32>
}

// -----

// Kept: more than 8 iterations, a loop of scalar code, a loop of unknown
// trip count.
// CHECK-LABEL: func.func @kept(
// CHECK: scf.for {{.*}} = %c0 to %c9
// CHECK: linalg.generic
// CHECK: scf.for {{.*}} = %c0 to %c2
// CHECK: scf.for {{.*}} = %c0 to %arg1
func.func @kept(%x: tensor<8xf32>, %n: index) -> (tensor<8xf32>, i32, tensor<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c9 = arith.constant 9 : index
  %c0_i32 = arith.constant 0 : i32
  %long = scf.for %j = %c0 to %c9 step %c1 iter_args(%prev = %x) -> (tensor<8xf32>) {
    %e = tensor.empty() : tensor<8xf32>
    %next = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                            iterator_types = ["parallel"]}
        ins(%prev : tensor<8xf32>) outs(%e : tensor<8xf32>) {
    ^bb0(%in: f32, %out: f32):
      %y = arith.addf %in, %in : f32
      linalg.yield %y : f32
    } -> tensor<8xf32>
    scf.yield %next : tensor<8xf32>
  }
  %scalar = scf.for %j = %c0 to %c2 step %c1 iter_args(%acc = %c0_i32) -> (i32) {
    %y = arith.addi %acc, %acc : i32
    scf.yield %y : i32
  }
  %dynamic = scf.for %j = %c0 to %n step %c1 iter_args(%prev = %x) -> (tensor<8xf32>) {
    %e = tensor.empty() : tensor<8xf32>
    %next = linalg.copy ins(%prev : tensor<8xf32>) outs(%e : tensor<8xf32>) -> tensor<8xf32>
    scf.yield %next : tensor<8xf32>
  }
  return %long, %scalar, %dynamic : tensor<8xf32>, i32, tensor<8xf32>
}
