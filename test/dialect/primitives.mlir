// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s
// RUN: moe-opt %s --verify-roundtrip

// Level 2: routing primitives, plan layouts and row movement.

// CHECK-LABEL: func.func @routing
// CHECK: moe.sinkhorn %{{.*}} {epsilon = 5.000000e-01 : f64, iterations = 3 : i64} : tensor<2x8x4xf32> -> tensor<2x8xf32>
// CHECK: moe.topk %{{.*}} {k = 2 : i64} : tensor<2x8x4xf32> -> tensor<2x8x2xf32>, tensor<2x8x2xi32>
// CHECK: moe.assign_slots %{{.*}} priority %{{.*}} : tensor<2x8x2xi32>, tensor<2x8xf32> -> tensor<2x4x3xi32>, tensor<2x8x2xi32>
// CHECK: moe.assign_slots %{{.*}} : tensor<2x8x2xi32> -> tensor<2x4x3xi32>, tensor<2x8x2xi32>
// CHECK: moe.invert_slots %{{.*}} : tensor<2x4x3xi32> -> tensor<2x8x4xi32>
func.func @routing(%l: tensor<2x8x4xf32>, %prio: tensor<2x8xf32>) -> (tensor<2x4x3xi32>, tensor<2x8x2xi32>, tensor<2x4x3xi32>, tensor<2x8x4xi32>) {
  %log_u = moe.sinkhorn %l {iterations = 3 : i64, epsilon = 0.5 : f64} : tensor<2x8x4xf32> -> tensor<2x8xf32>
  %v, %i = moe.topk %l {k = 2 : i64} : tensor<2x8x4xf32> -> tensor<2x8x2xf32>, tensor<2x8x2xi32>
  %st, %ts = moe.assign_slots %i priority %prio : tensor<2x8x2xi32>, tensor<2x8xf32> -> tensor<2x4x3xi32>, tensor<2x8x2xi32>
  %st2, %ts2 = moe.assign_slots %i : tensor<2x8x2xi32> -> tensor<2x4x3xi32>, tensor<2x8x2xi32>
  %inv = moe.invert_slots %st : tensor<2x4x3xi32> -> tensor<2x8x4xi32>
  return %st, %ts, %st2, %inv : tensor<2x4x3xi32>, tensor<2x8x2xi32>, tensor<2x4x3xi32>, tensor<2x8x4xi32>
}

// The k-sparse transport plan, and top-k over f64 scores.
// CHECK-LABEL: func.func @ksparse
// CHECK: moe.ksparse_ot %{{.*}} {capacity = 3 : i64, iterations = 4 : i64, learning_rate = 1.000000e-02 : f64} : tensor<2x8x4xf32> -> tensor<2x8x4xf64>
// CHECK: moe.topk %{{.*}} {k = 3 : i64} : tensor<2x8x4xf64> -> tensor<2x8x3xf64>, tensor<2x8x3xi32>
func.func @ksparse(%l: tensor<2x8x4xf32>) -> tensor<2x8x3xi32> {
  %p = moe.ksparse_ot %l {capacity = 3 : i64, iterations = 4 : i64, learning_rate = 0.01 : f64} : tensor<2x8x4xf32> -> tensor<2x8x4xf64>
  %v, %i = moe.topk %p {k = 3 : i64} : tensor<2x8x4xf64> -> tensor<2x8x3xf64>, tensor<2x8x3xi32>
  return %i : tensor<2x8x3xi32>
}

// CHECK-LABEL: func.func @layouts
// CHECK: moe.slot_plan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x3xi32>, tensor<2x8x2xi32>, tensor<2x8x2xf32>, tensor<2x8xi1> -> !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 3>
// CHECK: moe.slot_plan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {expert_choice} : tensor<2x4x3xi32>, tensor<2x8x4xi32>, tensor<2x8x4xf32>, tensor<2x8xi1> -> !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 3>
// CHECK: moe.soft_plan %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x8x6xf32>, tensor<2x8x6xf32>, tensor<2x8xi1> -> !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>
func.func @layouts(%st: tensor<2x4x3xi32>, %ts: tensor<2x8x2xi32>, %w: tensor<2x8x2xf32>, %ts4: tensor<2x8x4xi32>, %w4: tensor<2x8x4xf32>, %d: tensor<2x8x6xf32>, %valid: tensor<2x8xi1>) {
  %a = moe.slot_plan %st, %ts, %w, %valid : tensor<2x4x3xi32>, tensor<2x8x2xi32>, tensor<2x8x2xf32>, tensor<2x8xi1> -> !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 3>
  %b = moe.slot_plan %st, %ts4, %w4, %valid {expert_choice} : tensor<2x4x3xi32>, tensor<2x8x4xi32>, tensor<2x8x4xf32>, tensor<2x8xi1> -> !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 3>
  %c = moe.soft_plan %d, %d, %valid : tensor<2x8x6xf32>, tensor<2x8x6xf32>, tensor<2x8xi1> -> !moe.plan<groups = 2, tokens = 8, experts = 3, capacity = 2>
  return
}

// CHECK-LABEL: func.func @rows
// CHECK: moe.gather_rows %{{.*}}, %{{.*}} : tensor<2x8x16xbf16>, tensor<2x4x3xi32> -> tensor<4x6x16xbf16>
// CHECK: moe.combine_rows %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x6x16xbf16>, tensor<2x8x2xi32>, tensor<2x8x2xf32> -> tensor<2x8x16xbf16>
func.func @rows(%x: tensor<2x8x16xbf16>, %st: tensor<2x4x3xi32>, %ts: tensor<2x8x2xi32>, %w: tensor<2x8x2xf32>) -> tensor<2x8x16xbf16> {
  %s = moe.gather_rows %x, %st : tensor<2x8x16xbf16>, tensor<2x4x3xi32> -> tensor<4x6x16xbf16>
  %o = moe.combine_rows %s, %ts, %w : tensor<4x6x16xbf16>, tensor<2x8x2xi32>, tensor<2x8x2xf32> -> tensor<2x8x16xbf16>
  return %o : tensor<2x8x16xbf16>
}

// The sorted layout: row tables, gather, grouped GEMMs with epilogues, combine.
// CHECK-LABEL: func.func @sorted_layout
// CHECK: moe.sort_slots %{{.*}}, %{{.*}} : tensor<2x4x8xi32>, tensor<2x8x2xi32> -> tensor<32xi32>, tensor<5xi32>, tensor<2x8x2xi32>
// CHECK: moe.gather_tokens %{{.*}}, %{{.*}} : tensor<2x8x6xf32>, tensor<32xi32> -> tensor<32x6xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} offsets %{{.*}} bias %{{.*}} {activation = #moe<activation swiglu>} : tensor<32x6xf32>, tensor<4x6x10xf32>, tensor<5xi32>, tensor<4x10xf32> -> tensor<32x5xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} offsets %{{.*}} : tensor<32x5xf32>, tensor<4x5x6xf32>, tensor<5xi32> -> tensor<32x6xf32>
// CHECK: moe.combine_tokens %{{.*}}, %{{.*}}, %{{.*}} : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x2xf32> -> tensor<2x8x6xf32>
func.func @sorted_layout(%x: tensor<2x8x6xf32>, %st: tensor<2x4x8xi32>, %ts: tensor<2x8x2xi32>, %w: tensor<2x8x2xf32>,
                         %w1: tensor<4x6x10xf32>, %b1: tensor<4x10xf32>, %w2: tensor<4x5x6xf32>) -> tensor<2x8x6xf32> {
  %rt, %off, %tr = moe.sort_slots %st, %ts : tensor<2x4x8xi32>, tensor<2x8x2xi32> -> tensor<32xi32>, tensor<5xi32>, tensor<2x8x2xi32>
  %rows = moe.gather_tokens %x, %rt : tensor<2x8x6xf32>, tensor<32xi32> -> tensor<32x6xf32>
  %h = moe.grouped_matmul %rows, %w1 offsets %off bias %b1 {activation = #moe<activation swiglu>} : tensor<32x6xf32>, tensor<4x6x10xf32>, tensor<5xi32>, tensor<4x10xf32> -> tensor<32x5xf32>
  %y = moe.grouped_matmul %h, %w2 offsets %off : tensor<32x5xf32>, tensor<4x5x6xf32>, tensor<5xi32> -> tensor<32x6xf32>
  %o = moe.combine_tokens %y, %tr, %w : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x2xf32> -> tensor<2x8x6xf32>
  return %o : tensor<2x8x6xf32>
}

// CHECK-LABEL: func.func @checks
// CHECK: moe.check %{{.*}}, "out of memory"{{$}}
// CHECK: moe.check %{{.*}}, "input 'offsets' holds {0} at position {1}, outside [0, 9)"(%{{.*}}, %{{.*}} : i32, index){{$}}
func.func @checks(%bad: i1, %v: i32, %i: index) {
  moe.check %bad, "out of memory"
  moe.check %bad, "input 'offsets' holds {0} at position {1}, outside [0, 9)" (%v, %i : i32, index)
  return
}
