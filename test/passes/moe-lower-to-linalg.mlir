// RUN: moe-opt %s --moe-lower-to-linalg | FileCheck %s

// Every moe op becomes linalg/tensor/scf on tensors.
// CHECK-LABEL: func.func @lower
// CHECK-NOT: moe.
// Gate: one f32 GEMM over the tokens of every group.
// CHECK: tensor.collapse_shape %{{.*}} : tensor<1x8x16xf32> into tensor<8x16xf32>
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<16x4xf32>) outs(%{{.*}} : tensor<8x4xf32>)
// CHECK: tensor.expand_shape %{{.*}} : tensor<8x4xf32> into tensor<1x8x4xf32>
// Top-k (f32): each entry an i64 key (its order-preserving bits, then its
// inverted index), then k passes, each the largest key below the last pick.
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: arith.shli
// CHECK: scf.for
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:   arith.cmpi slt
// CHECK:   arith.maxsi
// Slot assignment as prefix sums (see @assign_slots), the k = 2 rounds
// stacked as groups.
// CHECK: outs(%{{.*}} : tensor<2x8x4xi32>)
// Expert MLP: batched matmuls around the activation (exact GELU: erf).
// CHECK: linalg.batch_matmul
// CHECK: math.erf
// CHECK: linalg.batch_matmul
// CHECK: return
func.func @lower(%x: tensor<1x8x16xf32>, %wg: tensor<16x4xf32>, %s: tensor<4x4x16xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>)
    -> (tensor<1x4x4xi32>, tensor<1x8x2xi32>, tensor<4x4x16xf32>) {
  %l = moe.gate %x, %wg : tensor<1x8x16xf32>, tensor<16x4xf32> -> tensor<1x8x4xf32>
  %v, %i = moe.topk %l {k = 2 : i64} : tensor<1x8x4xf32> -> tensor<1x8x2xf32>, tensor<1x8x2xi32>
  %st, %ts = moe.assign_slots %i : tensor<1x8x2xi32> -> tensor<1x4x4xi32>, tensor<1x8x2xi32>
  %y = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x4x16xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<4x4x16xf32>
  return %st, %ts, %y : tensor<1x4x4xi32>, tensor<1x8x2xi32>, tensor<4x4x16xf32>
}

// Slot assignment, parallel over its outputs at every step: the rank of
// each token by priority (a pairwise count) and its inverse permutation (one
// write per token: loops marked moe.disjoint_iterations); every round's
// choice of each token in order, one-hot over the experts, the rounds
// stacked as groups ([k * G, S, E]) for one inclusive prefix sum along the
// tokens in log2(8) = 3 passes; per round, each token's slot (its
// choice's position at its rank after the slots earlier rounds filled, -1
// past C) and the slots filled after the round; token_slot gathered from the
// rounds; each slot's token found by a binary search of its round's prefix
// sums.
// CHECK-LABEL: func.func @assign_slots
// CHECK: %[[RANK:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<1x8xi32>)
// CHECK: scf.for
// CHECK:   scf.for
// CHECK:     tensor.extract %[[RANK]]
// CHECK:     tensor.insert
// CHECK:   } {moe.disjoint_iterations}
// CHECK: } {moe.disjoint_iterations}
// CHECK: %[[ONEHOT:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<2x8x4xi32>)
// CHECK: arith.divui
// CHECK: arith.remui
// CHECK-COUNT-3: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x8x4xi32>)
// CHECK: %[[FILLED0:.*]] = linalg.fill {{.*}} -> tensor<1x4xi32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x8xi32>)
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %c0{{.*}}] : tensor<1x8x2xi32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x4xi32>)
// Round 1 reads its choices and its rows of the scan, 1 * G + g.
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x8xi32>)
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %c1{{.*}}] : tensor<1x8x2xi32>
// CHECK: %[[ROW1:.*]] = arith.addi %c1{{.*}}, %{{.*}} : index
// CHECK: tensor.extract %{{.*}}[%[[ROW1]], %{{.*}}, %{{.*}}] : tensor<2x8x4xi32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x4xi32>)
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x8x2xi32>)
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x4x3xi32>)
// CHECK:   scf.for {{.*}} -> (index, index)
// CHECK:   scf.for {{.*}} -> (index, index)
// CHECK-NOT: moe.
func.func @assign_slots(%i: tensor<1x8x2xi32>, %p: tensor<1x8xf32>) -> (tensor<1x4x3xi32>, tensor<1x8x2xi32>) {
  %st, %ts = moe.assign_slots %i priority %p : tensor<1x8x2xi32>, tensor<1x8xf32> -> tensor<1x4x3xi32>, tensor<1x8x2xi32>
  return %st, %ts : tensor<1x4x3xi32>, tensor<1x8x2xi32>
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

// An f64 top-k (the k-sparse transport plan's) keeps the comparison
// passes: k arg-max reductions on values and indices.
// CHECK-LABEL: func.func @topk_f64
// CHECK-NOT: arith.bitcast
// CHECK: scf.for
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:   arith.cmpf ogt
func.func @topk_f64(%x: tensor<1x4x8xf64>) -> (tensor<1x4x3xf64>, tensor<1x4x3xi32>) {
  %v, %i = moe.topk %x {k = 3 : i64} : tensor<1x4x8xf64> -> tensor<1x4x3xf64>, tensor<1x4x3xi32>
  return %v, %i : tensor<1x4x3xf64>, tensor<1x4x3xi32>
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

// The sorted layout's row tables: per-(group, expert) row counts, prefix
// sums into the expert offsets, a scatter of the occupied slots to their
// rows.
// CHECK-LABEL: func.func @sort_slots
// CHECK-NOT: moe.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}} : tensor<2x4x8xi32>) outs(%{{.*}} : tensor<2x4xi32>)
// CHECK: scf.for {{.*}} -> (tensor<5xi32>, i32)
// CHECK: tensor.insert %{{.*}} : tensor<5xi32>
// CHECK: scf.for {{.*}} -> (tensor<32xi32>)
// CHECK: scf.for {{.*}} -> (tensor<32xi32>)
// CHECK: scf.for {{.*}} -> (tensor<32xi32>)
// CHECK: tensor.insert %{{.*}} : tensor<32xi32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x8x2xi32>)
// CHECK-NOT: moe.
func.func @sort_slots(%st: tensor<2x4x8xi32>, %ts: tensor<2x8x2xi32>) -> (tensor<32xi32>, tensor<5xi32>, tensor<2x8x2xi32>) {
  %rt, %off, %tr = moe.sort_slots %st, %ts : tensor<2x4x8xi32>, tensor<2x8x2xi32> -> tensor<32xi32>, tensor<5xi32>, tensor<2x8x2xi32>
  return %rt, %off, %tr : tensor<32xi32>, tensor<5xi32>, tensor<2x8x2xi32>
}

// The data path decomposes itself. Gather: a linalg.generic over the rows
// reading the input at the row's index (0 for -1).
// CHECK-LABEL: func.func @gather
// CHECK-SAME: (%[[X:.*]]: tensor<16x6xf32>, %[[I:.*]]: tensor<32xi32>, %[[INIT:.*]]: tensor<32x6xf32>)
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel"]} ins(%[[I]] : tensor<32xi32>) outs(%[[INIT]] : tensor<32x6xf32>)
// CHECK:   arith.cmpi slt
// CHECK:   %[[COL:.*]] = linalg.index 1
// CHECK:   tensor.extract %[[X]][%{{.*}}, %[[COL]]] : tensor<16x6xf32>
// CHECK:   arith.select
func.func @gather(%x: tensor<16x6xf32>, %i: tensor<32xi32>, %init: tensor<32x6xf32>) -> tensor<32x6xf32> {
  %r = moe.gather_rows %x[%i] into %init : tensor<16x6xf32>, tensor<32xi32> into tensor<32x6xf32>
  return %r : tensor<32x6xf32>
}

// A grouped GEMM on ragged groups with swiglu: a parallel loop over
// experts, each a linalg.matmul on its own rows (from the offsets)
// accumulating onto the expert's bias broadcast to those rows, then the
// epilogue on those rows, inserted into the result.
// CHECK-LABEL: func.func @ragged
// CHECK-SAME: (%[[H:.*]]: tensor<32x6xf32>, %[[W1:.*]]: tensor<4x6x10xf32>, %[[B1:.*]]: tensor<4x10xf32>, %[[OFF:.*]]: tensor<5xi32>, %[[INIT:.*]]: tensor<32x5xf32>)
// CHECK: scf.forall (%[[E:[a-z0-9_]+]]) in (4) shared_outs(%[[OUT:.*]] = %[[INIT]]) -> (tensor<32x5xf32>)
// CHECK:   tensor.extract %[[OFF]][%[[E]]]
// CHECK:   %[[START:.*]] = arith.index_cast
// CHECK:   %[[COUNT:.*]] = arith.maxsi
// CHECK:   %[[A:.*]] = tensor.extract_slice %[[H]][%[[START]], 0] [%[[COUNT]], 6] [1, 1] : tensor<32x6xf32> to tensor<?x6xf32>
// CHECK:   %[[BIAS:.*]] = tensor.extract_slice %[[B1]][%[[E]], 0] [1, 10] [1, 1] : tensor<4x10xf32> to tensor<10xf32>
// CHECK:   %[[ACC:.*]] = linalg.broadcast ins(%[[BIAS]] : tensor<10xf32>) outs(%{{.*}} : tensor<?x10xf32>) dimensions = [0]
// CHECK:   %[[W:.*]] = tensor.extract_slice %[[W1]][%[[E]], 0, 0] [1, 6, 10] [1, 1, 1] : tensor<4x6x10xf32> to tensor<6x10xf32>
// CHECK:   %[[Z:.*]] = linalg.matmul ins(%[[A]], %[[W]] : tensor<?x6xf32>, tensor<6x10xf32>) outs(%[[ACC]] : tensor<?x10xf32>) -> tensor<?x10xf32>
// CHECK:   tensor.extract_slice %[[Z]][0, 0] [%{{.*}}, 5] [1, 1] : tensor<?x10xf32> to tensor<?x5xf32>
// CHECK:   tensor.extract_slice %[[Z]][0, 5] [%{{.*}}, 5] [1, 1] : tensor<?x10xf32> to tensor<?x5xf32>
// CHECK:   math.exp
// CHECK:   scf.forall.in_parallel
// CHECK:     tensor.parallel_insert_slice %{{.*}} into %[[OUT]][%[[START]], 0] [%[[COUNT]], 5] [1, 1] : tensor<?x5xf32> into tensor<32x5xf32>
func.func @ragged(%h: tensor<32x6xf32>, %w1: tensor<4x6x10xf32>, %b1: tensor<4x10xf32>, %off: tensor<5xi32>, %init: tensor<32x5xf32>) -> tensor<32x5xf32> {
  %r = moe.grouped_matmul %h, %w1 offsets %off bias(%b1 : tensor<4x10xf32>) into %init {activation = #moe<activation swiglu>} : tensor<32x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<32x5xf32>
  return %r : tensor<32x5xf32>
}

// Uniform groups (the padded layout's constant offsets) give static rows:
// expert e's 8 rows start at 8 * e. With a gather operand the A rows are
// read by index from the tokens; the row scale multiplies in the epilogue,
// which writes the expert's rows of the result in place.
// CHECK-LABEL: func.func @uniform
// CHECK-SAME: (%[[X:.*]]: tensor<16x6xf32>, %[[I:.*]]: tensor<32xi32>, %[[W2:.*]]: tensor<4x6x5xf32>, %[[S:.*]]: tensor<32xf32>, %[[INIT:.*]]: tensor<32x5xf32>)
// CHECK: scf.forall (%[[E:[a-z0-9_]+]]) in (4)
// CHECK:   %[[START:.*]] = arith.muli %[[E]], %{{.*}} : index
// CHECK:   %[[IDX:.*]] = tensor.extract_slice %[[I]][%[[START]]] [8] [1] : tensor<32xi32> to tensor<8xi32>
// CHECK:   %[[A:.*]] = linalg.generic {{.*}} ins(%[[IDX]] : tensor<8xi32>) outs(%{{.*}} : tensor<8x6xf32>)
// CHECK:     tensor.extract %[[X]]
// CHECK:   %[[DEST:.*]] = tensor.extract_slice %{{.*}}[%[[START]], 0] [8, 5] [1, 1] : tensor<32x5xf32> to tensor<8x5xf32>
// CHECK:   %[[SC:.*]] = tensor.extract_slice %[[S]][%[[START]]] [8] [1] : tensor<32xf32> to tensor<8xf32>
// CHECK:   linalg.fill
// CHECK:   %[[Z:.*]] = linalg.matmul ins(%[[A]], %{{.*}} : tensor<8x6xf32>, tensor<6x5xf32>) outs(%{{.*}} : tensor<8x5xf32>) -> tensor<8x5xf32>
// CHECK:   linalg.generic {{.*}} ins(%[[Z]], %[[SC]] : tensor<8x5xf32>, tensor<8xf32>) outs(%[[DEST]] : tensor<8x5xf32>)
// CHECK:     arith.mulf
// CHECK:   tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%[[START]], 0] [8, 5] [1, 1] : tensor<8x5xf32> into tensor<32x5xf32>
func.func @uniform(%x: tensor<16x6xf32>, %i: tensor<32xi32>, %w2: tensor<4x6x5xf32>, %s: tensor<32xf32>, %init: tensor<32x5xf32>) -> tensor<32x5xf32> {
  %off = arith.constant dense<[0, 8, 16, 24, 32]> : tensor<5xi32>
  %r = moe.grouped_matmul %x gather(%i : tensor<32xi32>), %w2 offsets %off scale(%s : tensor<32xf32>) into %init : tensor<16x6xf32>, tensor<4x6x5xf32>, tensor<5xi32> into tensor<32x5xf32>
  return %r : tensor<32x5xf32>
}

// Scatter-add: a linalg.generic over (g, s, i, j), j the reduction, reading
// each assignment's row (weight * 0 for none); prescaled rows are added as
// they are.
// CHECK-LABEL: func.func @scatter
// CHECK-SAME: (%[[Y:.*]]: tensor<32x6xf32>, %[[TR:.*]]: tensor<2x8x2xi32>, %[[W:.*]]: tensor<2x8x2xf32>, %[[INIT:.*]]: tensor<2x8x6xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[TR]], %[[W]] : tensor<2x8x2xi32>, tensor<2x8x2xf32>) outs(%[[INIT]] : tensor<2x8x6xf32>)
// CHECK:   tensor.extract %[[Y]]
// CHECK:   %[[PRODUCT:.*]] = arith.mulf
// CHECK:   arith.addf %{{.*}}, %[[PRODUCT]]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK:   %[[ROW:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK:   %[[NONE:.*]] = arith.mulf %{{.*}}, %[[ROW]]
// CHECK:   %[[ADD:.*]] = arith.select %{{.*}}, %[[NONE]], %[[ROW]] : f32
// CHECK:   arith.addf %{{.*}}, %[[ADD]]
// CHECK-NOT: moe.
func.func @scatter(%y: tensor<32x6xf32>, %tr: tensor<2x8x2xi32>, %w: tensor<2x8x2xf32>, %init: tensor<2x8x6xf32>) -> (tensor<2x8x6xf32>, tensor<2x8x6xf32>) {
  %o = moe.scatter_add_rows %y, %tr, %w into %init : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x2xf32> into tensor<2x8x6xf32>
  %p = moe.scatter_add_rows %y, %tr, %w into %init {prescaled} : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x2xf32> into tensor<2x8x6xf32>
  return %o, %p : tensor<2x8x6xf32>, tensor<2x8x6xf32>
}

// The dense parts of whole models: linalg.softmax is decomposed like the data
// path's ops (max, exp of the difference, sum, division), so later stages
// see linalg ops only.
// CHECK-LABEL: func.func @dense_softmax
// CHECK-NOT: linalg.softmax
// CHECK: arith.maxnumf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: arith.divf
// CHECK-NOT: linalg.softmax
func.func @dense_softmax(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %e = tensor.empty() : tensor<8x16xf32>
  %s = linalg.softmax dimension(1) ins(%x : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) -> tensor<8x16xf32>
  return %s : tensor<8x16xf32>
}
