// RUN: moe-opt %s --moe-expand-route -split-input-file -verify-diagnostics | FileCheck %s

// Token choice with BPR: softmax, top-k, top-1 priority, slot assignment,
// kept weights, and the slot-table plan, all in index form: no tensor of
// S x E x C (here 8x4x4) is ever built.
// CHECK-LABEL: func.func @token_choice_bpr
// CHECK-NOT: moe.route
// CHECK-NOT: tensor<1x8x4x4x
// CHECK: %[[V:.*]], %[[I:.*]] = moe.topk %{{.*}} {k = 2 : i64} : tensor<1x8x4xf32> -> tensor<1x8x2xf32>, tensor<1x8x2xi32>
// CHECK: %[[TOP1:.*]] = tensor.extract_slice %[[V]][0, 0, 0] [1, 8, 1] [1, 1, 1] : tensor<1x8x2xf32> to tensor<1x8xf32>
// CHECK: %[[ST:.*]], %[[TS:.*]] = moe.assign_slots %[[I]] priority %[[TOP1]] : tensor<1x8x2xi32>, tensor<1x8xf32> -> tensor<1x4x4xi32>, tensor<1x8x2xi32>
// CHECK: moe.slot_plan %[[ST]], %[[TS]], %{{.*}} : tensor<1x4x4xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
func.func @token_choice_bpr(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4> {
  %p = moe.route %l token_choice<k = 2, capacity = 4, priority = bpr> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
}

// -----

// Position priority has no priority operand; Sinkhorn ranks the balanced
// plan and takes the combine weights from the softmax.
// CHECK-LABEL: func.func @token_choice_sinkhorn
// CHECK: %[[P:.*]] = moe.sinkhorn %{{.*}} {epsilon = 5.000000e-01 : f64, iterations = 3 : i64}
// CHECK: moe.topk %[[P]] {k = 1 : i64}
// CHECK: moe.assign_slots %{{.*}} : tensor<2x8x1xi32> -> tensor<2x4x2xi32>, tensor<2x8x1xi32>
func.func @token_choice_sinkhorn(%l: tensor<2x8x4xf32>) -> !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 2> {
  %p = moe.route %l token_choice<k = 1, capacity = 2, score = sinkhorn<iterations = 3, epsilon = 0.5>> : tensor<2x8x4xf32> -> !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 2>
  return %p : !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 2>
}

// -----

// Expert choice: experts rank tokens (top-C along tokens), the inverse map
// is [G, S, E].
// CHECK-LABEL: func.func @expert_choice
// CHECK: linalg.transpose {{.*}} permutation = [0, 2, 1]
// CHECK: %[[V:.*]], %[[I:.*]] = moe.topk %{{.*}} {k = 3 : i64} : tensor<1x4x8xf32> -> tensor<1x4x3xf32>, tensor<1x4x3xi32>
// CHECK: %[[TS:.*]] = moe.invert_slots %[[I]] : tensor<1x4x3xi32> -> tensor<1x8x4xi32>
// CHECK: moe.slot_plan %[[I]], %[[TS]], %{{.*}} {expert_choice}
func.func @expert_choice(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3> {
  %p = moe.route %l expert_choice<capacity = 3> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>
}

// -----

// Soft MoE: two softmaxes, over tokens and over slots, into the dense plan.
// CHECK-LABEL: func.func @soft
// CHECK: moe.soft_plan %{{.*}}, %{{.*}} : tensor<2x8x6xf32>, tensor<2x8x6xf32> -> !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>
func.func @soft(%l: tensor<2x8x6xf32>) -> !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2> {
  %p = moe.route %l soft<slots_per_expert = 2> : tensor<2x8x6xf32> -> !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>
  return %p : !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>
}

// -----

// Per-image routing routes pooled items ([G, S/T, E]) and expands the item
// slots to token slots.
// CHECK-LABEL: func.func @per_image
// CHECK: tensor.expand_shape {{.*}} : tensor<1x8x4xf32> into tensor<1x2x4x4xf32>
// CHECK: moe.topk %{{.*}} {k = 1 : i64} : tensor<1x2x4xf32>
// CHECK: moe.assign_slots %{{.*}} : tensor<1x2x1xi32> -> tensor<1x4x2xi32>, tensor<1x2x1xi32>
// CHECK: moe.slot_plan %{{.*}} : tensor<1x4x8xi32>, tensor<1x8x1xi32>, tensor<1x8x1xf32>
func.func @per_image(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> {
  %p = moe.route %l per_image<tokens_per_item = 4, k = 1, pooling = mean> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
}

// -----

// Sparsity-constrained expert choice: the k-sparse transport plan (f64),
// ranked per expert in f64, combine weights from the softmax gates.
// CHECK-LABEL: func.func @ksparse
// CHECK: %[[G:.*]] = linalg.generic
// CHECK: %[[P:.*]] = moe.ksparse_ot %{{.*}} {capacity = 2 : i64, iterations = 5 : i64, learning_rate = 1.000000e-01 : f64} : tensor<1x8x4xf32> -> tensor<1x8x4xf64>
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[P]] : tensor<1x8x4xf64>)
// CHECK: %{{.*}}, %[[I:.*]] = moe.topk %[[T]] {k = 2 : i64} : tensor<1x4x8xf64> -> tensor<1x4x2xf64>, tensor<1x4x2xi32>
// CHECK: moe.invert_slots %[[I]] : tensor<1x4x2xi32> -> tensor<1x8x4xi32>
// CHECK: moe.slot_plan %[[I]], %{{.*}}, %{{.*}} {expert_choice}
func.func @ksparse(%l: tensor<1x8x4xf32>) -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 2> {
  %p = moe.route %l expert_choice<capacity = 2, score = ksparse_ot<iterations = 5, learning_rate = 0.1>> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 2>
  return %p : !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 2>
}
