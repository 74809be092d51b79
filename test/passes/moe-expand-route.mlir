// RUN: moe-opt %s --moe-expand-route -split-input-file -verify-diagnostics | FileCheck %s

// Token choice with BPR: the tokens' validity (docs/routers.md §7: no NaN or
// +Inf, not -Inf everywhere), top-k of the logits (softmax increases with
// them, so this ranks as exact arithmetic would), the gates of the chosen
// experts, the top-1 gate as priority, invalid tokens' choices set to -1,
// slot assignment, kept weights (NaN for invalid tokens) and the slot-table
// plan, all in index form: no tensor of S x E x C (here 8x4x4) is built.
// CHECK-LABEL: func.func @token_choice_bpr
// CHECK-SAME: (%[[L:.+]]: tensor<1x8x4xf32>)
// CHECK-NOT: moe.route
// CHECK-NOT: tensor<1x8x4x4x
// CHECK: %[[CLEAN:.+]] = linalg.generic {{.+}} ins(%[[L]] : tensor<1x8x4xf32>) outs(%{{.+}} : tensor<1x8xi1>)
// CHECK:   arith.cmpf uno
// CHECK: %[[SOME:.+]] = linalg.generic {{.+}} ins(%[[L]] : tensor<1x8x4xf32>) outs(%{{.+}} : tensor<1x8xi1>)
// CHECK:   arith.cmpf ogt
// CHECK: %[[VALID:.+]] = linalg.generic {{.+}} ins(%[[CLEAN]], %[[SOME]] : tensor<1x8xi1>, tensor<1x8xi1>)
// CHECK: %[[V:.*]], %[[I:.*]] = moe.topk %[[L]] {k = 2 : i64} : tensor<1x8x4xf32> -> tensor<1x8x2xf32>, tensor<1x8x2xi32>
// CHECK: %[[GATE:.+]] = linalg.generic {{.+}} ins(%[[I]] : tensor<1x8x2xi32>) outs(%{{.+}} : tensor<1x8x2xf32>)
// CHECK: %[[TOP1:.*]] = tensor.extract_slice %[[GATE]][0, 0, 0] [1, 8, 1] [1, 1, 1] : tensor<1x8x2xf32> to tensor<1x8xf32>
// CHECK: %[[CHOICES:.+]] = linalg.generic {{.+}} ins(%[[I]], %[[VALID]] : tensor<1x8x2xi32>, tensor<1x8xi1>)
// CHECK:   arith.select %{{.+}}, %{{.+}}, %c-1_i32 : i32
// CHECK: %[[ST:.*]], %[[TS:.*]] = moe.assign_slots %[[CHOICES]] priority %[[TOP1]] : tensor<1x8x2xi32>, tensor<1x8xf32> -> tensor<1x4x4xi32>, tensor<1x8x2xi32>
// CHECK: %[[KEPT:.+]] = linalg.generic {{.+}} ins(%[[TS]], %[[GATE]] : tensor<1x8x2xi32>, tensor<1x8x2xf32>)
// CHECK: %[[W:.+]] = linalg.generic {{.+}} ins(%[[KEPT]], %[[VALID]] : tensor<1x8x2xf32>, tensor<1x8xi1>)
// CHECK:   arith.select %{{.+}}, %{{.+}}, %cst{{.*}} : f32
// CHECK: moe.slot_plan %[[ST]], %[[TS]], %[[W]], %[[VALID]] : tensor<1x4x4xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32>, tensor<1x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
func.func @token_choice_bpr(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4> {
  %p = moe.route %l token_choice<k = 2, capacity = 4, priority = bpr> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
}

// -----

// Renormalised weights are the softmax of the k chosen logits
// (exp(l_i - logsumexp), never 0/0); sigmoid takes log sigmoid first.
// CHECK-LABEL: func.func @renormalize
// CHECK: %{{.*}}, %[[I:.*]] = moe.topk %{{.+}} {k = 2 : i64}
// CHECK: %[[CHOSEN:.+]] = linalg.generic {{.+}} ins(%[[I]] : tensor<1x8x2xi32>) outs(%{{.+}} : tensor<1x8x2xf32>)
// CHECK: %[[MAX:.+]] = linalg.generic {{.+}} ins(%[[CHOSEN]] : tensor<1x8x2xf32>)
// CHECK:   arith.maximumf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: moe.assign_slots
// CHECK-LABEL: func.func @renormalize_sigmoid
// CHECK: moe.topk %{{.+}} {k = 2 : i64}
// CHECK: math.log1p
func.func @renormalize(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> {
  %p = moe.route %l token_choice<k = 2, dropless, renormalize> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
}
func.func @renormalize_sigmoid(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> {
  %p = moe.route %l token_choice<k = 2, dropless, score = sigmoid, renormalize> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
}

// -----

// Sinkhorn token choice: log u of the balanced plan, x = log u + l / eps,
// and the leave-one-out ranking -log R (RoutingScores.h): per expert column
// the top two tokens and the shifted sums over the others; combine weights
// from the softmax; BPR priority is the top-1 score.
// CHECK-LABEL: func.func @token_choice_sinkhorn
// CHECK: %[[LOGU:.*]] = moe.sinkhorn %[[L:.+]] {epsilon = 5.000000e-01 : f64, iterations = 3 : i64} : tensor<2x8x4xf32> -> tensor<2x8xf32>
// CHECK: %[[X:.+]] = linalg.generic {{.+}} ins(%[[L]], %[[LOGU]] : tensor<2x8x4xf32>, tensor<2x8xf32>)
// CHECK: %[[XV:.+]] = linalg.generic {{.+}} ins(%[[X]], %{{.+}} : tensor<2x8x4xf32>, tensor<2x8xi1>)
// CHECK: %[[COLUMNS:.+]] = linalg.transpose ins(%[[XV]] : tensor<2x8x4xf32>)
// CHECK: moe.topk %[[COLUMNS]] {k = 2 : i64} : tensor<2x4x8xf32> -> tensor<2x4x2xf32>, tensor<2x4x2xi32>
// CHECK: math.log
// CHECK: %[[V:.*]], %[[I:.*]] = moe.topk %{{.+}} {k = 1 : i64} : tensor<2x8x4xf32>
// CHECK: %[[TOP1:.+]] = tensor.extract_slice %[[V]][0, 0, 0] [2, 8, 1] [1, 1, 1]
// CHECK: moe.assign_slots %{{.*}} priority %[[TOP1]] : tensor<2x8x1xi32>, tensor<2x8xf32> -> tensor<2x4x2xi32>, tensor<2x8x1xi32>
func.func @token_choice_sinkhorn(%l: tensor<2x8x4xf32>) -> !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 2> {
  %p = moe.route %l token_choice<k = 1, capacity = 2, priority = bpr, score = sinkhorn<iterations = 3, epsilon = 0.5>> : tensor<2x8x4xf32> -> !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 2>
  return %p : !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 2>
}

// -----

// Expert choice: invalid tokens' scores become NaN (ranked last), experts
// rank tokens (top-C along tokens), slots holding an invalid token are
// emptied, and the inverse map is [G, S, E].
// CHECK-LABEL: func.func @expert_choice
// CHECK: %[[SCORES:.+]] = linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<1x8x4xf32>, tensor<1x8xi1>)
// CHECK:   arith.select %{{.+}}, %{{.+}}, %cst{{.*}} : f32
// CHECK: linalg.transpose ins(%[[SCORES]] {{.*}} permutation = [0, 2, 1]
// CHECK: %[[V:.*]], %[[I:.*]] = moe.topk %{{.*}} {k = 3 : i64} : tensor<1x4x8xf32> -> tensor<1x4x3xf32>, tensor<1x4x3xi32>
// CHECK: %[[ST:.+]] = linalg.generic {{.+}} outs(%{{.+}} : tensor<1x4x3xi32>)
// CHECK:   tensor.extract %[[I]]
// CHECK: %[[TS:.*]] = moe.invert_slots %[[ST]] : tensor<1x4x3xi32> -> tensor<1x8x4xi32>
// CHECK: moe.slot_plan %[[ST]], %[[TS]], %{{.*}}, %{{.*}} {expert_choice}
func.func @expert_choice(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3> {
  %p = moe.route %l expert_choice<capacity = 3> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>
}

// -----

// Soft MoE: the dispatch softmax over tokens leaves invalid tokens out (their
// logits -Inf, 0 where a group has none); the combine softmax over slots is
// NaN for them; the dense plan carries the validity.
// CHECK-LABEL: func.func @soft
// CHECK: %[[DL:.+]] = linalg.generic {{.+}} ins(%{{.+}}, %[[VALID:.+]] : tensor<2x8x6xf32>, tensor<2x8xi1>)
// CHECK: iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[DL]]
// CHECK: arith.cmpf uno
// CHECK: moe.soft_plan %{{.*}}, %{{.*}}, %[[VALID]] : tensor<2x8x6xf32>, tensor<2x8x6xf32>, tensor<2x8xi1> -> !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>
func.func @soft(%l: tensor<2x8x6xf32>) -> !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2> {
  %p = moe.route %l soft<slots_per_expert = 2> : tensor<2x8x6xf32> -> !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>
  return %p : !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>
}

// -----

// Per-image routing routes pooled items ([G, S/T, E]), valid when all their
// tokens and their pooled row are, ranks the pooled logits and expands the
// item slots to token slots.
// CHECK-LABEL: func.func @per_image
// CHECK: tensor.expand_shape {{.*}} : tensor<1x8x4xf32> into tensor<1x2x4x4xf32>
// CHECK: tensor.expand_shape {{.*}} : tensor<1x8xi1> into tensor<1x2x4xi1>
// CHECK: %{{.*}}, %[[I:.*]] = moe.topk %[[POOLED:.+]] {k = 1 : i64} : tensor<1x2x4xf32>
// CHECK: moe.assign_slots %{{.*}} : tensor<1x2x1xi32> -> tensor<1x4x2xi32>, tensor<1x2x1xi32>
// CHECK: moe.slot_plan %{{.*}} : tensor<1x4x8xi32>, tensor<1x8x1xi32>, tensor<1x8x1xf32>, tensor<1x8xi1>
func.func @per_image(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> {
  %p = moe.route %l per_image<tokens_per_item = 4, k = 1, pooling = mean> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
}

// -----

// Sparsity-constrained expert choice: the k-sparse transport plan (f64),
// ranked per expert in f64, combine weights from the softmax gates.
// CHECK-LABEL: func.func @ksparse
// CHECK: %[[P:.*]] = moe.ksparse_ot %{{.*}} {capacity = 2 : i64, iterations = 5 : i64, learning_rate = 1.000000e-01 : f64} : tensor<1x8x4xf32> -> tensor<1x8x4xf64>
// CHECK: %[[MASKED:.+]] = linalg.generic {{.+}} ins(%[[P]], %{{.+}} : tensor<1x8x4xf64>, tensor<1x8xi1>)
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[MASKED]] : tensor<1x8x4xf64>)
// CHECK: %{{.*}}, %[[I:.*]] = moe.topk %[[T]] {k = 2 : i64} : tensor<1x4x8xf64> -> tensor<1x4x2xf64>, tensor<1x4x2xi32>
// CHECK: moe.invert_slots %{{.+}} : tensor<1x4x2xi32> -> tensor<1x8x4xi32>
// CHECK: moe.slot_plan %{{.+}} {expert_choice}
func.func @ksparse(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 2> {
  %p = moe.route %l expert_choice<capacity = 2, score = ksparse_ot<iterations = 5, learning_rate = 0.1>> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 2>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 2>
}
