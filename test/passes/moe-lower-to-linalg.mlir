// RUN: moe-opt %s --moe-lower-to-linalg | FileCheck %s

// Every moe op becomes linalg/tensor/scf on tensors.
// CHECK-LABEL: func.func @lower
// CHECK-NOT: moe.
// Gate: an f32 contraction over d.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// Top-k: k arg-max passes in a loop.
// CHECK: scf.for
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// Slot assignment: groups, rounds, tokens.
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.if
// Expert MLP: batched matmuls around the activation (exact GELU: erf).
// CHECK: linalg.batch_matmul
// CHECK: math.erf
// CHECK: linalg.batch_matmul
// CHECK: return
func.func @lower(%x: tensor<1x8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>)
    -> tensor<1x8x16xf32> {
  %l = moe.gate %x, %wg : tensor<1x8x16xf32>, tensor<16x4xf32> -> tensor<1x8x4xf32>
  %v, %i = moe.topk %l {k = 2 : i64} : tensor<1x8x4xf32> -> tensor<1x8x2xf32>, tensor<1x8x2xi32>
  %st, %ts = moe.assign_slots %i : tensor<1x8x2xi32> -> tensor<1x4x4xi32>, tensor<1x8x2xi32>
  %s = moe.gather_rows %x, %st : tensor<1x8x16xf32>, tensor<1x4x4xi32> -> tensor<4x4x16xf32>
  %y = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x4x16xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<4x4x16xf32>
  %o = moe.combine_rows %y, %ts, %v : tensor<4x4x16xf32>, tensor<1x8x2xi32>, tensor<1x8x2xf32> -> tensor<1x8x16xf32>
  return %o : tensor<1x8x16xf32>
}

// The region form becomes a loop over experts on their [M, d] slots.
// CHECK-LABEL: func.func @region
// CHECK: scf.for %[[E:.*]] = %{{.*}} to %{{.*}} step
// CHECK: tensor.extract_slice %{{.*}}[%[[E]], 0, 0] [1, 4, 16] [1, 1, 1] : tensor<3x4x16xf32> to tensor<4x16xf32>
// CHECK: math.tanh
// CHECK: tensor.insert_slice
func.func @region(%s: tensor<3x4x16xf32>) -> tensor<3x4x16xf32> {
  %y = moe.experts %s : (tensor<3x4x16xf32>) -> tensor<3x4x16xf32> {
  ^bb0(%e: index, %rows: tensor<4x16xf32>):
    %t = math.tanh %rows : tensor<4x16xf32>
    moe.yield %t : tensor<4x16xf32>
  }
  return %y : tensor<3x4x16xf32>
}

// The k-sparse transport plan: f64 softmax similarities per expert row, an
// Adam loop over token potentials whose every step takes each expert's top-C
// (arg-max passes) and the simplex threshold of the kept values, then the
// final projection, transposed back to [G, S, E].
// CHECK-LABEL: func.func @ksparse
// CHECK-NOT: moe.
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: math.exp %{{.*}} : f64
// CHECK: linalg.transpose ins(%{{.*}} : tensor<1x8x4xf64>) outs(%{{.*}} : tensor<1x4x8xf64>)
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args({{.*}}) -> (tensor<1x8xf64>, tensor<1x8xf64>, tensor<1x8xf64>)
// CHECK:   scf.for {{.*}} -> (tensor<1x4x2xf64>, tensor<1x4x2xi32>, tensor<1x4xf64>, tensor<1x4xi32>)
// CHECK:   scf.for {{.*}} -> (f64, index)
// CHECK:   math.powf
// CHECK:   math.powf
// CHECK:   math.sqrt %{{.*}} : f64
// CHECK: scf.yield %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x8xf64>, tensor<1x8xf64>, tensor<1x8xf64>
// CHECK: scf.for {{.*}} -> (tensor<1x4x2xf64>, tensor<1x4x2xi32>, tensor<1x4xf64>, tensor<1x4xi32>)
// CHECK: linalg.transpose ins(%{{.*}} : tensor<1x4x8xf64>) outs(%{{.*}} : tensor<1x8x4xf64>)
// CHECK-NOT: moe.
func.func @ksparse(%l: tensor<1x8x4xf32>) -> tensor<1x8x4xf64> {
  %p = moe.ksparse_ot %l {capacity = 2 : i64, iterations = 5 : i64, learning_rate = 0.1 : f64} : tensor<1x8x4xf32> -> tensor<1x8x4xf64>
  return %p : tensor<1x8x4xf64>
}

// The sorted layout: per-(group, expert) row counts, prefix sums into the
// expert offsets, a scatter of the occupied slots to their rows; gather as a
// linalg.generic; each grouped GEMM a parallel loop over experts, each a
// linalg.matmul on its own rows accumulating onto the expert's bias broadcast
// to those rows, then the activation (swiglu on the two halves) on those
// rows; combine as a linalg.generic.
// CHECK-LABEL: func.func @sorted_layout
// CHECK-NOT: moe.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}} : tensor<2x4x8xi32>) outs(%{{.*}} : tensor<2x4xi32>)
// CHECK: scf.for {{.*}} -> (tensor<5xi32>, i32)
// CHECK: tensor.insert %{{.*}} : tensor<5xi32>
// CHECK: scf.for {{.*}} -> (tensor<32xi32>)
// CHECK: scf.for {{.*}} -> (tensor<32xi32>)
// CHECK: scf.for {{.*}} -> (tensor<32xi32>)
// CHECK: tensor.insert %{{.*}} : tensor<32xi32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x8x2xi32>)
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<32x6xf32>)
// CHECK: %[[UP:[a-z0-9_]+]] = scf.forall (%[[E:[a-z0-9_]+]]) in (4) shared_outs(%{{.*}}) -> (tensor<32x5xf32>)
// CHECK:   %[[BIAS:.*]] = tensor.extract_slice %{{.*}}[%[[E]], 0] [1, 10] [1, 1] : tensor<4x10xf32> to tensor<10xf32>
// CHECK:   %[[ACC:.*]] = linalg.broadcast ins(%[[BIAS]] : tensor<10xf32>) outs(%{{.*}} : tensor<?x10xf32>) dimensions = [0]
// CHECK:   tensor.extract_slice %{{.*}}[%[[E]], 0, 0] [1, 6, 10] [1, 1, 1] : tensor<4x6x10xf32> to tensor<6x10xf32>
// CHECK:   %[[Z:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x6xf32>, tensor<6x10xf32>) outs(%[[ACC]] : tensor<?x10xf32>) -> tensor<?x10xf32>
// CHECK:   tensor.extract_slice %[[Z]][0, 0] [%{{.*}}, 5] [1, 1] : tensor<?x10xf32> to tensor<?x5xf32>
// CHECK:   tensor.extract_slice %[[Z]][0, 5] [%{{.*}}, 5] [1, 1] : tensor<?x10xf32> to tensor<?x5xf32>
// CHECK:   math.exp
// CHECK:   scf.forall.in_parallel
// CHECK:     tensor.parallel_insert_slice %{{.*}} : tensor<?x5xf32> into tensor<32x5xf32>
// CHECK: scf.forall (%{{.*}}) in (4) shared_outs(%{{.*}}) -> (tensor<32x6xf32>)
// CHECK-NOT: linalg.broadcast
// CHECK:   linalg.fill
// CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x5xf32>, tensor<5x6xf32>) outs(%{{.*}} : tensor<?x6xf32>) -> tensor<?x6xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<2x8x2xi32>, tensor<2x8x2xf32>) outs(%{{.*}} : tensor<2x8x6xf32>)
// CHECK: tensor.extract %{{.*}} : tensor<32x6xf32>
// CHECK-NOT: moe.
func.func @sorted_layout(%x: tensor<2x8x6xf32>, %st: tensor<2x4x8xi32>, %ts: tensor<2x8x2xi32>, %w: tensor<2x8x2xf32>,
                         %w1: tensor<4x6x10xf32>, %b1: tensor<4x10xf32>, %w2: tensor<4x5x6xf32>) -> tensor<2x8x6xf32> {
  %rt, %off, %tr = moe.sort_slots %st, %ts : tensor<2x4x8xi32>, tensor<2x8x2xi32> -> tensor<32xi32>, tensor<5xi32>, tensor<2x8x2xi32>
  %rows = moe.gather_tokens %x, %rt : tensor<2x8x6xf32>, tensor<32xi32> -> tensor<32x6xf32>
  %h = moe.grouped_matmul %rows, %w1 offsets %off bias %b1 {activation = #moe<activation swiglu>} : tensor<32x6xf32>, tensor<4x6x10xf32>, tensor<5xi32>, tensor<4x10xf32> -> tensor<32x5xf32>
  %y = moe.grouped_matmul %h, %w2 offsets %off : tensor<32x5xf32>, tensor<4x5x6xf32>, tensor<5xi32> -> tensor<32x6xf32>
  %o = moe.combine_tokens %y, %tr, %w : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x2xf32> -> tensor<2x8x6xf32>
  return %o : tensor<2x8x6xf32>
}
