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

// The data path: gather, grouped GEMMs (with gather and epilogues, static
// and dynamic tile shapes), scatter-add.
// CHECK-LABEL: func.func @data_path
// CHECK: moe.sort_slots %{{.*}}, %{{.*}} : tensor<2x4x8xi32>, tensor<2x8x2xi32> -> tensor<32xi32>, tensor<5xi32>, tensor<2x8x2xi32>
// CHECK: moe.gather_rows %{{.*}}[%{{.*}}] into %{{.*}} : tensor<16x6xbf16>, tensor<32xi32> into tensor<32x6xbf16>
// CHECK: moe.grouped_matmul %{{.*}} gather(%{{.*}} : tensor<32xi32>), %{{.*}} offsets %{{.*}} bias(%{{.*}} : tensor<4x10xf32>) into %{{.*}} {activation = #moe<activation swiglu>} : tensor<16x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<32x5xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} offsets %{{.*}} scale(%{{.*}} : tensor<32xf32>) into %{{.*}} {activation = #moe<activation gelu_tanh>} : tensor<32x5xf32>, tensor<4x5x6xf32>, tensor<5xi32> into tensor<32x6xf32>
// CHECK: moe.grouped_matmul %{{.*}}, %{{.*}} offsets %{{.*}} into %{{.*}} : tensor<?x5xf32>, tensor<4x5x?xf32>, tensor<5xi32> into tensor<?x?xf32>
// CHECK: moe.scatter_add_rows %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} {prescaled} : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x2xf32> into tensor<2x8x6xf32>
// CHECK: moe.scatter_add_rows %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} : tensor<32x6xbf16>, tensor<2x8x2xi32>, tensor<2x8x2xf32> into tensor<2x8x6xbf16>
func.func @data_path(%x: tensor<16x6xf32>, %xb: tensor<16x6xbf16>, %st: tensor<2x4x8xi32>, %ts: tensor<2x8x2xi32>, %w: tensor<2x8x2xf32>,
                     %w1: tensor<4x6x10xf32>, %b1: tensor<4x10xf32>, %w2: tensor<4x5x6xf32>, %scale: tensor<32xf32>,
                     %tile: tensor<?x5xf32>, %wtile: tensor<4x5x?xf32>, %otile: tensor<?x?xf32>)
    -> (tensor<2x8x6xf32>, tensor<2x8x6xbf16>, tensor<?x?xf32>) {
  %rt, %off, %tr = moe.sort_slots %st, %ts : tensor<2x4x8xi32>, tensor<2x8x2xi32> -> tensor<32xi32>, tensor<5xi32>, tensor<2x8x2xi32>
  %e6 = tensor.empty() : tensor<32x6xbf16>
  %rows = moe.gather_rows %xb[%rt] into %e6 : tensor<16x6xbf16>, tensor<32xi32> into tensor<32x6xbf16>
  %e5 = tensor.empty() : tensor<32x5xf32>
  %h = moe.grouped_matmul %x gather(%rt : tensor<32xi32>), %w1 offsets %off bias(%b1 : tensor<4x10xf32>) into %e5 {activation = #moe<activation swiglu>} : tensor<16x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<32x5xf32>
  %f6 = tensor.empty() : tensor<32x6xf32>
  %y = moe.grouped_matmul %h, %w2 offsets %off scale(%scale : tensor<32xf32>) into %f6 {activation = #moe<activation gelu_tanh>} : tensor<32x5xf32>, tensor<4x5x6xf32>, tensor<5xi32> into tensor<32x6xf32>
  %t = moe.grouped_matmul %tile, %wtile offsets %off into %otile : tensor<?x5xf32>, tensor<4x5x?xf32>, tensor<5xi32> into tensor<?x?xf32>
  %z = tensor.empty() : tensor<2x8x6xf32>
  %o = moe.scatter_add_rows %y, %tr, %w into %z {prescaled} : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x2xf32> into tensor<2x8x6xf32>
  %zb = tensor.empty() : tensor<2x8x6xbf16>
  %ob = moe.scatter_add_rows %rows, %tr, %w into %zb : tensor<32x6xbf16>, tensor<2x8x2xi32>, tensor<2x8x2xf32> into tensor<2x8x6xbf16>
  return %o, %ob, %t : tensor<2x8x6xf32>, tensor<2x8x6xbf16>, tensor<?x?xf32>
}

// CHECK-LABEL: func.func @checks
// CHECK: moe.check %{{.*}}, "out of memory"{{$}}
// CHECK: moe.check %{{.*}}, "input 'offsets' holds {0} at position {1}, outside [0, 9)"(%{{.*}}, %{{.*}} : i32, index){{$}}
func.func @checks(%bad: i1, %v: i32, %i: index) {
  moe.check %bad, "out of memory"
  moe.check %bad, "input 'offsets' holds {0} at position {1}, outside [0, 9)" (%v, %i : i32, index)
  return
}
