// RUN: moe-opt %s --moe-materialize-plan -split-input-file -verify-diagnostics | FileCheck %s

!plan = !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>

// The slot table: dispatch gathers rows, combine sums each token's slots,
// statistics are reductions; the plan itself disappears.
// CHECK-LABEL: func.func @slot_table
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x16xf32>, %[[ST:.*]]: tensor<1x4x3xi32>, %[[TS:.*]]: tensor<1x8x2xi32>, %[[W:.*]]: tensor<1x8x2xf32>
// CHECK-NOT: moe.slot_plan
// CHECK: %[[S:.*]] = moe.gather_rows %[[X]], %[[ST]] : tensor<1x8x16xf32>, tensor<1x4x3xi32> -> tensor<4x3x16xf32>
// CHECK: moe.combine_rows %[[S]], %[[TS]], %[[W]] : tensor<4x3x16xf32>, tensor<1x8x2xi32>, tensor<1x8x2xf32> -> tensor<1x8x16xf32>
// CHECK-NOT: moe.route_stats
// CHECK: return
func.func @slot_table(%x: tensor<1x8x16xf32>, %st: tensor<1x4x3xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>, %l: tensor<1x8x4xf32>)
    -> (tensor<1x8x16xf32>, tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>) {
  %p = moe.slot_plan %st, %ts, %w : tensor<1x4x3xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32> -> !plan
  %s = moe.dispatch %x, %p : tensor<1x8x16xf32>, !plan -> tensor<4x3x16xf32>
  %o = moe.combine %s, %p : tensor<4x3x16xf32>, !plan -> tensor<1x8x16xf32>
  %a, %b, %c, %d = moe.route_stats %l, %p : tensor<1x8x4xf32>, !plan -> tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>
  return %o, %a, %b, %c, %d : tensor<1x8x16xf32>, tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>
}

// -----

!soft = !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>

// Dense soft weights: dispatch and combine are contractions over tokens and
// over slots.
// CHECK-LABEL: func.func @soft
// CHECK: tensor.expand_shape %{{.*}} : tensor<2x8x6xf32> into tensor<2x8x3x2xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK: tensor.collapse_shape %{{.*}} : tensor<3x2x2x16xf32> into tensor<3x4x16xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]
// CHECK-NOT: moe.
func.func @soft(%x: tensor<2x8x16xf32>, %dw: tensor<2x8x6xf32>, %cw: tensor<2x8x6xf32>) -> tensor<2x8x16xf32> {
  %p = moe.soft_plan %dw, %cw : tensor<2x8x6xf32>, tensor<2x8x6xf32> -> !soft
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
