// RUN: moe-opt %s --split-input-file --moe-cpu-distribute | FileCheck %s
// RUN: moe-opt %s --split-input-file --moe-cpu-distribute=columns=128 | FileCheck %s --check-prefix=NARROW

// An expert GEMM with its bias and activation: one workgroup per expert and
// block of 256 columns, the bias broadcast and the activation in the same
// workgroup; the untiled ops are gone.
// CHECK-LABEL: func.func @experts
// CHECK-NOT: linalg.batch_matmul
// CHECK: scf.forall (%[[E:.*]], %[[N:.*]]) = (0, 0) to (4, 512) step (1, 256) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<4x16x512xf32>)
// CHECK:   %[[BIAS:.*]] = tensor.extract_slice %{{.*}}[%[[E]], %[[N]]] [1, 256] [1, 1] : tensor<4x512xf32> to tensor<1x256xf32>
// CHECK:   %[[INIT:.*]] = linalg.generic {{.*}} ins(%[[BIAS]] : tensor<1x256xf32>) outs(%{{.*}} : tensor<1x16x256xf32>)
// CHECK:   %[[H:.*]] = linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<1x16x64xf32>, tensor<1x64x256xf32>) outs(%[[INIT]] : tensor<1x16x256xf32>)
// CHECK:   %[[ACT:.*]] = linalg.generic {{.*}} ins(%[[H]] : tensor<1x16x256xf32>)
// CHECK:     arith.maximumf
// CHECK:   scf.forall.in_parallel
// CHECK:     tensor.parallel_insert_slice %[[ACT]] into %[[OUT]][%[[E]], 0, %[[N]]] [1, 16, 256] [1, 1, 1]
// CHECK-NOT: linalg.batch_matmul
// NARROW-LABEL: func.func @experts
// NARROW: scf.forall (%{{.*}}, %{{.*}}) = (0, 0) to (4, 512) step (1, 128)
func.func @experts(%x: tensor<4x16x64xf32>, %w: tensor<4x64x512xf32>, %b: tensor<4x512xf32>) -> tensor<4x16x512xf32> {
  %empty = tensor.empty() : tensor<4x16x512xf32>
  %init = linalg.generic {indexing_maps = [affine_map<(e, m, n) -> (e, n)>, affine_map<(e, m, n) -> (e, m, n)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%b : tensor<4x512xf32>) outs(%empty : tensor<4x16x512xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<4x16x512xf32>
  %h = linalg.batch_matmul ins(%x, %w : tensor<4x16x64xf32>, tensor<4x64x512xf32>) outs(%init : tensor<4x16x512xf32>) -> tensor<4x16x512xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(e, m, n) -> (e, m, n)>, affine_map<(e, m, n) -> (e, m, n)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%h : tensor<4x16x512xf32>) outs(%empty : tensor<4x16x512xf32>) {
  ^bb0(%in: f32, %out: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %in, %z : f32
    linalg.yield %m : f32
  } -> tensor<4x16x512xf32>
  return %r : tensor<4x16x512xf32>
}

// -----

// Without an element-wise consumer the GEMM itself is split; its A operand's
// producer (a gather, here a copy) is not fused: each column block would
// redo it. Narrow GEMMs are split by expert only.
// CHECK-LABEL: func.func @down_projection
// CHECK: %[[A:.*]] = linalg.copy
// CHECK: scf.forall (%[[E:.*]]) in (4) shared_outs
// CHECK:   tensor.extract_slice %[[A]][%[[E]], 0, 0] [1, 16, 64]
// CHECK:   linalg.fill {{.*}} -> tensor<1x16x32xf32>
// CHECK:   linalg.batch_matmul {{.*}} -> tensor<1x16x32xf32>
func.func @down_projection(%x: tensor<4x16x64xf32>, %w: tensor<4x64x32xf32>) -> tensor<4x16x32xf32> {
  %c = tensor.empty() : tensor<4x16x64xf32>
  %a = linalg.copy ins(%x : tensor<4x16x64xf32>) outs(%c : tensor<4x16x64xf32>) -> tensor<4x16x64xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<4x16x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<4x16x32xf32>) -> tensor<4x16x32xf32>
  %y = linalg.batch_matmul ins(%a, %w : tensor<4x16x64xf32>, tensor<4x64x32xf32>) outs(%init : tensor<4x16x32xf32>) -> tensor<4x16x32xf32>
  return %y : tensor<4x16x32xf32>
}

// -----

// Other large ops are split along their outer parallel loops, never along a
// reduction, into workgroups of at least min-work (65536) points: 4096 x 64
// points make 4 workgroups. Small ones and ops inside loops are left alone.
// CHECK-LABEL: func.func @others
// CHECK: scf.forall (%{{.*}}) = (0) to (4096) step (1024)
// CHECK:   linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<1024xf32>)
// CHECK-NOT: scf.forall (
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<16xf32>)
// CHECK: scf.for
// CHECK:   linalg.generic {{.*}} outs(%{{.*}} : tensor<4096x64xf32>)
func.func @others(%x: tensor<4096x64xf32>, %small: tensor<16xf32>) -> (tensor<4096xf32>, tensor<16xf32>, tensor<4096x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<4096xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<4096xf32>) -> tensor<4096xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4096x64xf32>) outs(%init : tensor<4096xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  } -> tensor<4096xf32>
  %e16 = tensor.empty() : tensor<16xf32>
  %neg = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%small : tensor<16xf32>) outs(%e16 : tensor<16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<16xf32>
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %c1 = arith.constant 1 : index
  %loop = scf.for %i = %c0 to %c3 step %c1 iter_args(%t = %x) -> tensor<4096x64xf32> {
    %e = tensor.empty() : tensor<4096x64xf32>
    %d = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%t : tensor<4096x64xf32>) outs(%e : tensor<4096x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %two = arith.addf %in, %in : f32
      linalg.yield %two : f32
    } -> tensor<4096x64xf32>
    scf.yield %d : tensor<4096x64xf32>
  }
  return %sum, %neg, %loop : tensor<4096xf32>, tensor<16xf32>, tensor<4096x64xf32>
}

// -----

// swiglu reads two column halves of the GEMM: each block of its columns
// fuses the GEMM twice, once per half (columns n and 512 + n of the
// weight), so the gate and value halves of a block are computed in the same
// workgroup.
// CHECK-LABEL: func.func @swiglu
// CHECK: scf.forall (%[[N:.*]]) = (0) to (512) step (256)
// CHECK:   tensor.extract_slice %{{.*}}[0, %[[N]]] [64, 256] [1, 1] : tensor<64x1024xf32> to tensor<64x256xf32>
// CHECK:   %[[GATE:.*]] = linalg.matmul {{.*}} -> tensor<16x256xf32>
// CHECK:   %[[HI:.*]] = affine.apply #{{.*}}()[%[[N]]]
// CHECK:   tensor.extract_slice %{{.*}}[0, %[[HI]]] [64, 256] [1, 1] : tensor<64x1024xf32> to tensor<64x256xf32>
// CHECK:   %[[VALUE:.*]] = linalg.matmul {{.*}} -> tensor<16x256xf32>
// CHECK:   linalg.generic {{.*}} ins(%[[GATE]], %[[VALUE]] : tensor<16x256xf32>, tensor<16x256xf32>)
// CHECK-NOT: linalg.matmul {{.*}} -> tensor<16x1024xf32>
func.func @swiglu(%x: tensor<16x64xf32>, %w: tensor<64x1024xf32>) -> tensor<16x512xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x1024xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<16x1024xf32>) -> tensor<16x1024xf32>
  %z = linalg.matmul ins(%x, %w : tensor<16x64xf32>, tensor<64x1024xf32>) outs(%init : tensor<16x1024xf32>) -> tensor<16x1024xf32>
  %gate = tensor.extract_slice %z[0, 0] [16, 512] [1, 1] : tensor<16x1024xf32> to tensor<16x512xf32>
  %value = tensor.extract_slice %z[0, 512] [16, 512] [1, 1] : tensor<16x1024xf32> to tensor<16x512xf32>
  %o = tensor.empty() : tensor<16x512xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%gate, %value : tensor<16x512xf32>, tensor<16x512xf32>) outs(%o : tensor<16x512xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<16x512xf32>
  return %r : tensor<16x512xf32>
}
