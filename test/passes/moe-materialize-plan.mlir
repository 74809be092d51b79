// RUN: moe-opt %s --moe-materialize-plan -split-input-file -verify-diagnostics | FileCheck %s

!plan = !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>

// The slot table: dispatch gathers the tokens (as [G * S, d] rows) into
// the padded rows (expert-major: row e * G * C + g * C + c holds token
// g * S + slot_token[g, e, c], or -1), combine scatter-adds the rows into
// the tokens (each token's row of assignment j: e * G * C + g * C + c for
// token_slot = e * C + c), statistics are reductions; the plan itself
// disappears.
// CHECK-LABEL: func.func @slot_table
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x16xf32>, %[[ST:.*]]: tensor<1x4x3xi32>, %[[TS:.*]]: tensor<1x8x2xi32>, %[[W:.*]]: tensor<1x8x2xf32>
// CHECK-NOT: moe.slot_plan
// CHECK: %[[INDEX3:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4x1x3xi32>)
// CHECK:   tensor.extract %[[ST]]
// CHECK: %[[INDEX:.*]] = tensor.collapse_shape %[[INDEX3]] {{\[}}[0, 1, 2]] : tensor<4x1x3xi32> into tensor<12xi32>
// CHECK: %[[TOKENS:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<1x8x16xf32> into tensor<8x16xf32>
// CHECK: %[[ROWS:.*]] = moe.gather_rows %[[TOKENS]][%[[INDEX]]] into %{{.*}} : tensor<8x16xf32>, tensor<12xi32> into tensor<12x16xf32>
// CHECK: %[[S:.*]] = tensor.expand_shape %[[ROWS]] {{\[}}[0, 1], [2]] output_shape [4, 3, 16] : tensor<12x16xf32> into tensor<4x3x16xf32>
// CHECK: %[[Y:.*]] = tensor.collapse_shape %[[S]] {{\[}}[0, 1], [2]] : tensor<4x3x16xf32> into tensor<12x16xf32>
// CHECK: %[[TR:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x8x2xi32>)
// CHECK:   tensor.extract %[[TS]]
// CHECK: %[[ZEROS:.*]] = linalg.fill {{.*}} -> tensor<1x8x16xf32>
// CHECK: moe.scatter_add_rows %[[Y]], %[[TR]], %[[W]] into %[[ZEROS]] : tensor<12x16xf32>, tensor<1x8x2xi32>, tensor<1x8x2xf32> into tensor<1x8x16xf32>
// CHECK-NOT: moe.route_stats
// CHECK: return
func.func @slot_table(%x: tensor<1x8x16xf32>, %st: tensor<1x4x3xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>, %l: tensor<1x8x4xf32>, %valid: tensor<1x8xi1>)
    -> (tensor<1x8x16xf32>, tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>) {
  %p = moe.slot_plan %st, %ts, %w, %valid : tensor<1x4x3xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32>, tensor<1x8xi1> -> !plan
  %s = moe.dispatch %x, %p : tensor<1x8x16xf32>, !plan -> tensor<4x3x16xf32>
  %o = moe.combine %s, %p : tensor<4x3x16xf32>, !plan -> tensor<1x8x16xf32>
  %a, %b, %c, %d = moe.route_stats %l, %p : tensor<1x8x4xf32>, !plan -> tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>
  return %o, %a, %b, %c, %d : tensor<1x8x16xf32>, tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>
}

// -----

!soft = !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>

// Dense soft weights: dispatch and combine are GEMMs per group (batched
// matmuls, as the experts' GEMMs are tiled), over the tokens and over the
// slots; the slots move between group-major and expert-major order by
// transposes; invalid tokens' features are left out of the dispatch (0 * NaN
// would be NaN).
// CHECK-LABEL: func.func @soft
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x16xf32>, %[[DW:.*]]: tensor<2x8x6xf32>, %[[CW:.*]]: tensor<2x8x6xf32>, %[[VALID:.*]]: tensor<2x8xi1>)
// CHECK: %[[XV:.+]] = linalg.generic {{.+}} ins(%[[X]], %[[VALID]] : tensor<2x8x16xf32>, tensor<2x8xi1>)
// CHECK: %[[DT:.+]] = linalg.transpose ins(%[[DW]] : tensor<2x8x6xf32>) outs(%{{.*}} : tensor<2x6x8xf32>) permutation = [0, 2, 1]
// CHECK: linalg.batch_matmul ins(%[[DT]], %[[XV]] : tensor<2x6x8xf32>, tensor<2x8x16xf32>) outs(%{{.*}} : tensor<2x6x16xf32>)
// CHECK: linalg.transpose ins(%{{.*}} : tensor<2x3x2x16xf32>) outs(%{{.*}} : tensor<3x2x2x16xf32>) permutation = [1, 0, 2, 3]
// CHECK: tensor.collapse_shape %{{.*}} : tensor<3x2x2x16xf32> into tensor<3x4x16xf32>
// CHECK: linalg.transpose ins(%{{.*}} : tensor<3x2x2x16xf32>) outs(%{{.*}} : tensor<2x3x2x16xf32>) permutation = [1, 0, 2, 3]
// CHECK: %[[BYGROUP:.+]] = tensor.collapse_shape %{{.*}} : tensor<2x3x2x16xf32> into tensor<2x6x16xf32>
// CHECK: linalg.batch_matmul ins(%[[CW]], %[[BYGROUP]] : tensor<2x8x6xf32>, tensor<2x6x16xf32>) outs(%{{.*}} : tensor<2x8x16xf32>)
// CHECK-NOT: moe.
func.func @soft(%x: tensor<2x8x16xf32>, %dw: tensor<2x8x6xf32>, %cw: tensor<2x8x6xf32>, %valid: tensor<2x8xi1>) -> tensor<2x8x16xf32> {
  %p = moe.soft_plan %dw, %cw, %valid : tensor<2x8x6xf32>, tensor<2x8x6xf32>, tensor<2x8xi1> -> !soft
  %s = moe.dispatch %x, %p : tensor<2x8x16xf32>, !soft -> tensor<3x4x16xf32>
  %o = moe.combine %s, %p : tensor<3x4x16xf32>, !soft -> tensor<2x8x16xf32>
  return %o : tensor<2x8x16xf32>
}

// -----

!plan = !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>

func.func @unexpanded(%x: tensor<1x8x16xf32>, %l: tensor<1x8x4xf32>) -> tensor<4x3x16xf32> {
  %p = moe.route %l token_choice<k = 1, capacity = 3> : tensor<1x8x4xf32> -> !plan
  // expected-error@+1 {{its plan has no concrete layout; run moe-expand-route first}}
  %s = moe.dispatch %x, %p : tensor<1x8x16xf32>, !plan -> tensor<4x3x16xf32>
  return %s : tensor<4x3x16xf32>
}

// -----

!plan = !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>

// The slot table read back: tokens widened to i64; token choice finds the
// weight of a slot among the token's k choices.
// CHECK-LABEL: func.func @plan_slots_token_choice
// CHECK-SAME: (%[[ST:.*]]: tensor<1x4x3xi32>, %[[TS:.*]]: tensor<1x8x2xi32>, %[[W:.*]]: tensor<1x8x2xf32>, %{{.*}}: tensor<1x8xi1>)
// CHECK: linalg.generic {{.*}} ins(%[[ST]] : tensor<1x4x3xi32>)
// CHECK: arith.extsi %{{.*}} : i32 to i64
// CHECK: linalg.generic
// CHECK: tensor.extract %[[ST]]
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK: tensor.extract %[[TS]][%{{.*}}, %{{.*}}, %[[J]]]
// CHECK: tensor.extract %[[W]][%{{.*}}, %{{.*}}, %[[J]]]
// CHECK-NOT: moe.
func.func @plan_slots_token_choice(%st: tensor<1x4x3xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>, %valid: tensor<1x8xi1>)
    -> (tensor<1x4x3xi64>, tensor<1x4x3xf32>) {
  %p = moe.slot_plan %st, %ts, %w, %valid : tensor<1x4x3xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32>, tensor<1x8xi1> -> !plan
  %t, %sw = moe.plan_slots %p : !plan -> tensor<1x4x3xi64>, tensor<1x4x3xf32>
  return %t, %sw : tensor<1x4x3xi64>, tensor<1x4x3xf32>
}

// -----

!plan = !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>

// Expert choice: expert e's weight of a token is the token's entry e.
// CHECK-LABEL: func.func @plan_slots_expert_choice
// CHECK-SAME: (%[[ST:.*]]: tensor<1x4x3xi32>, %[[TS:.*]]: tensor<1x8x4xi32>, %[[W:.*]]: tensor<1x8x4xf32>, %{{.*}}: tensor<1x8xi1>)
// CHECK: linalg.generic
// CHECK: ^bb0(%{{.*}}: f32):
// CHECK: %[[G:.*]] = linalg.index 0
// CHECK: %[[E:.*]] = linalg.index 1
// CHECK-NOT: scf.for
// CHECK: tensor.extract %[[W]][%[[G]], %{{.*}}, %[[E]]]
func.func @plan_slots_expert_choice(%st: tensor<1x4x3xi32>, %ts: tensor<1x8x4xi32>, %w: tensor<1x8x4xf32>, %valid: tensor<1x8xi1>)
    -> (tensor<1x4x3xi64>, tensor<1x4x3xf32>) {
  %p = moe.slot_plan %st, %ts, %w, %valid {expert_choice} : tensor<1x4x3xi32>, tensor<1x8x4xi32>, tensor<1x8x4xf32>, tensor<1x8xi1> -> !plan
  %t, %sw = moe.plan_slots %p : !plan -> tensor<1x4x3xi64>, tensor<1x4x3xf32>
  return %t, %sw : tensor<1x4x3xi64>, tensor<1x4x3xf32>
}

// -----

!soft = !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>

func.func @plan_slots_soft(%dw: tensor<2x8x6xf32>, %cw: tensor<2x8x6xf32>, %valid: tensor<2x8xi1>) -> tensor<2x3x2xi64> {
  %p = moe.soft_plan %dw, %cw, %valid : tensor<2x8x6xf32>, tensor<2x8x6xf32>, tensor<2x8xi1> -> !soft
  // expected-error@+1 {{a Soft MoE plan has no slot table (its dispatch and combine weights are dense)}}
  %t, %w = moe.plan_slots %p : !soft -> tensor<2x3x2xi64>, tensor<2x3x2xf32>
  return %t : tensor<2x3x2xi64>
}

// -----

!plan = !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>

// Statistics over the valid tokens only, and the count of invalid tokens
// when asked for: importance from the valid tokens' gates, dropped
// assignments and lost tokens counted where the token is valid.
// CHECK-LABEL: func.func @stats_invalid
// CHECK-SAME: %[[VALID:[a-z0-9]+]]: tensor<1x8xi1>)
// CHECK: %[[GATES:.+]] = linalg.generic {{.+}} ins(%{{.+}}, %[[VALID]] : tensor<1x8x4xf32>, tensor<1x8xi1>)
// CHECK: linalg.generic {{.+}} ins(%{{.+}}, %[[VALID]] : tensor<1x8xi64>, tensor<1x8xi1>)
// CHECK: linalg.generic {{.+}} ins(%{{.+}}, %[[VALID]] : tensor<1x8xi64>, tensor<1x8xi1>)
// CHECK: %[[INVALID:.+]] = linalg.generic {{.+}} ins(%[[VALID]] : tensor<1x8xi1>) outs(%{{.+}} : tensor<1x8xi1>)
// CHECK:   arith.xori
// CHECK: %[[COUNT:.+]] = linalg.generic {{.+}} ins(%[[INVALID]] : tensor<1x8xi1>) outs(%{{.+}} : tensor<1xi64>)
// CHECK: return {{.*}}, %[[COUNT]] :
func.func @stats_invalid(%st: tensor<1x4x3xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>, %l: tensor<1x8x4xf32>, %valid: tensor<1x8xi1>)
    -> (tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) {
  %p = moe.slot_plan %st, %ts, %w, %valid : tensor<1x4x3xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32>, tensor<1x8xi1> -> !plan
  %a, %b, %c, %d, %e = moe.route_stats %l, %p : tensor<1x8x4xf32>, !plan -> tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>
  return %a, %b, %c, %d, %e : tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>
}
