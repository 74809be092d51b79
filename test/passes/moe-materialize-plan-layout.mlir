// RUN: moe-opt %s --moe-materialize-plan -split-input-file | FileCheck %s --check-prefixes=CHECK,AUTO
// RUN: moe-opt %s --moe-materialize-plan=layout=padded -split-input-file | FileCheck %s --check-prefixes=CHECK,PADDED
// RUN: moe-opt %s --moe-materialize-plan=layout=sorted -split-input-file | FileCheck %s --check-prefixes=CHECK,SORTED
// RUN: not moe-opt %s --moe-materialize-plan=layout=ragged 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: error: moe-materialize-plan: unknown layout 'ragged'; expected auto, padded or sorted

// A dropless-shaped plan (C = S = 8 slots per expert, k = 2 choices, 4
// experts): the slot table has 32 slots for at most 16 assignments, so auto
// picks the sorted layout: 16 rows, per-expert offsets. Either layout runs
// the data path: gather, grouped GEMMs with bias and activation as
// epilogue, each token summing its own rows.
// CHECK-LABEL: func.func @dropless
// CHECK-SAME: (%[[X:[^:]*]]: tensor<1x8x6xf32>, %[[ST:[^:]*]]: tensor<1x4x8xi32>, %[[TS:[^:]*]]: tensor<1x8x2xi32>, %[[W:[^:]*]]: tensor<1x8x2xf32>, %[[W1:[^:]*]]: tensor<4x6x10xf32>, %[[B1:[^:]*]]: tensor<4x10xf32>, %[[W2:[^:]*]]: tensor<4x10x6xf32>
// AUTO: %[[RT:.*]], %[[OFF:.*]], %[[TR:.*]] = moe.sort_slots %[[ST]], %[[TS]] : tensor<1x4x8xi32>, tensor<1x8x2xi32> -> tensor<16xi32>, tensor<5xi32>, tensor<1x8x2xi32>
// AUTO: %[[TOKENS:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<1x8x6xf32> into tensor<8x6xf32>
// AUTO: %[[R:.*]] = moe.gather_rows %[[TOKENS]][%[[RT]]] into %{{.*}} : tensor<8x6xf32>, tensor<16xi32> into tensor<16x6xf32>
// AUTO: %[[H:.*]] = moe.grouped_matmul %[[R]], %[[W1]] offsets %[[OFF]] bias(%[[B1]] : tensor<4x10xf32>) into %{{.*}} {activation = #moe<activation gelu>} : tensor<16x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<16x10xf32>
// AUTO: %[[Y:.*]] = moe.grouped_matmul %[[H]], %[[W2]] offsets %[[OFF]] into %{{.*}} : tensor<16x10xf32>, tensor<4x10x6xf32>, tensor<5xi32> into tensor<16x6xf32>
// AUTO: moe.scatter_add_rows %[[Y]], %[[TR]], %[[W]] into %{{.*}} : tensor<16x6xf32>, tensor<1x8x2xi32>, tensor<1x8x2xf32> into tensor<1x8x6xf32>
// SORTED: moe.sort_slots
// SORTED: moe.scatter_add_rows
// The padded layout: 32 rows, 8 per expert (constant offsets).
// PADDED-NOT: moe.sort_slots
// PADDED: %[[OFF:.*]] = arith.constant dense<[0, 8, 16, 24, 32]> : tensor<5xi32>
// PADDED: moe.gather_rows %{{.*}} into %{{.*}} : tensor<8x6xf32>, tensor<32xi32> into tensor<32x6xf32>
// PADDED: moe.grouped_matmul %{{.*}}, %[[W1]] offsets %[[OFF]]
// PADDED: moe.grouped_matmul %{{.*}}, %[[W2]] offsets %[[OFF]]
// PADDED: moe.scatter_add_rows %{{.*}} : tensor<32x6xf32>, tensor<1x8x2xi32>, tensor<1x8x2xf32> into tensor<1x8x6xf32>
// CHECK-NOT: moe.experts
// CHECK: return
func.func @dropless(%x: tensor<1x8x6xf32>, %st: tensor<1x4x8xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>,
                    %w1: tensor<4x6x10xf32>, %b1: tensor<4x10xf32>, %w2: tensor<4x10x6xf32>, %valid: tensor<1x8xi1>) -> tensor<1x8x6xf32> {
  %p = moe.slot_plan %st, %ts, %w, %valid : tensor<1x4x8xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32>, tensor<1x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
  %s = moe.dispatch %x, %p : tensor<1x8x6xf32>, !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> -> tensor<4x8x6xf32>
  %y = moe.experts %s mlp(gelu) up %w1 up_bias %b1 down %w2
      : (tensor<4x8x6xf32>, tensor<4x6x10xf32>, tensor<4x10xf32>, tensor<4x10x6xf32>) -> tensor<4x8x6xf32>
  %o = moe.combine %y, %p : tensor<4x8x6xf32>, !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> -> tensor<1x8x6xf32>
  return %o : tensor<1x8x6xf32>
}

// -----

// A capacity-limited plan fills most of its slots (12 slots, at most 12
// assignments): auto keeps the padded slot table; sorted still applies.
// CHECK-LABEL: func.func @capacity
// AUTO-NOT: moe.sort_slots
// AUTO: arith.constant dense<[0, 3, 6, 9, 12]> : tensor<5xi32>
// PADDED: arith.constant dense<[0, 3, 6, 9, 12]> : tensor<5xi32>
// SORTED: moe.sort_slots %{{.*}}, %{{.*}} : tensor<1x4x3xi32>, tensor<1x8x2xi32> -> tensor<12xi32>, tensor<5xi32>, tensor<1x8x2xi32>
// CHECK: moe.gather_rows
// CHECK: moe.grouped_matmul
// CHECK: moe.grouped_matmul
// CHECK: moe.scatter_add_rows
func.func @capacity(%x: tensor<1x8x6xf32>, %st: tensor<1x4x3xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>,
                    %w1: tensor<4x6x10xf32>, %w2: tensor<4x10x6xf32>, %valid: tensor<1x8xi1>) -> tensor<1x8x6xf32> {
  %p = moe.slot_plan %st, %ts, %w, %valid : tensor<1x4x3xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32>, tensor<1x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>
  %s = moe.dispatch %x, %p : tensor<1x8x6xf32>, !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3> -> tensor<4x3x6xf32>
  %y = moe.experts %s mlp(relu) up %w1 down %w2 : (tensor<4x3x6xf32>, tensor<4x6x10xf32>, tensor<4x10x6xf32>) -> tensor<4x3x6xf32>
  %o = moe.combine %y, %p : tensor<4x3x6xf32>, !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3> -> tensor<1x8x6xf32>
  return %o : tensor<1x8x6xf32>
}

// -----

// The dispatched slots are also a result: the chain cannot be replaced, so
// every layout option keeps the slot table, one op at a time.
// CHECK-LABEL: func.func @slots_escape
// CHECK-NOT: moe.sort_slots
// CHECK: moe.gather_rows
// CHECK: moe.experts
// CHECK: moe.scatter_add_rows
func.func @slots_escape(%x: tensor<1x8x6xf32>, %st: tensor<1x4x8xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>,
                        %w1: tensor<4x6x10xf32>, %w2: tensor<4x10x6xf32>, %valid: tensor<1x8xi1>) -> (tensor<1x8x6xf32>, tensor<4x8x6xf32>) {
  %p = moe.slot_plan %st, %ts, %w, %valid : tensor<1x4x8xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32>, tensor<1x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
  %s = moe.dispatch %x, %p : tensor<1x8x6xf32>, !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> -> tensor<4x8x6xf32>
  %y = moe.experts %s mlp(relu) up %w1 down %w2 : (tensor<4x8x6xf32>, tensor<4x6x10xf32>, tensor<4x10x6xf32>) -> tensor<4x8x6xf32>
  %o = moe.combine %y, %p : tensor<4x8x6xf32>, !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> -> tensor<1x8x6xf32>
  return %o, %s : tensor<1x8x6xf32>, tensor<4x8x6xf32>
}
