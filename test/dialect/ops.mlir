// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s
// RUN: moe-opt %s --verify-roundtrip

// Round trip of every moe op and every router variant. The CHECK lines spell
// out the whole printed router (from `<` to the `:` of the type), so a
// parameter that printing drops, or a default that printing does not omit,
// fails the test.

//===----------------------------------------------------------------------===//
// moe.gate
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @gate_plain
// CHECK: moe.gate %{{.+}}, %{{.+}} : tensor<2x16x8xf32>, tensor<8x4xf32> -> tensor<2x16x4xf32>{{$}}
// CHECK: moe.gate %{{.+}}, %{{.+}} : tensor<2x16x8xbf16>, tensor<8x4xbf16> -> tensor<2x16x4xf32>{{$}}
func.func @gate_plain(%x: tensor<2x16x8xf32>, %w: tensor<8x4xf32>,
                      %xb: tensor<2x16x8xbf16>, %wb: tensor<8x4xbf16>)
    -> (tensor<2x16x4xf32>, tensor<2x16x4xf32>) {
  %0 = moe.gate %x, %w : tensor<2x16x8xf32>, tensor<8x4xf32> -> tensor<2x16x4xf32>
  %1 = moe.gate %xb, %wb : tensor<2x16x8xbf16>, tensor<8x4xbf16> -> tensor<2x16x4xf32>
  return %0, %1 : tensor<2x16x4xf32>, tensor<2x16x4xf32>
}

// Soft MoE form: phi is [d, E, p] and the logits have E * p columns.
// CHECK-LABEL: func.func @gate_soft
// CHECK: moe.gate %{{.+}}, %{{.+}} scale %{{.+}} : tensor<2x16x8xf32>, tensor<8x4x2xf32>, tensor<f32> -> tensor<2x16x8xf32>{{$}}
func.func @gate_soft(%x: tensor<2x16x8xf32>, %phi: tensor<8x4x2xf32>,
                     %s: tensor<f32>) -> tensor<2x16x8xf32> {
  %0 = moe.gate %x, %phi scale %s : tensor<2x16x8xf32>, tensor<8x4x2xf32>, tensor<f32> -> tensor<2x16x8xf32>
  return %0 : tensor<2x16x8xf32>
}

//===----------------------------------------------------------------------===//
// A whole layer: gate, route, dispatch, experts, combine, route_stats
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @layer
// CHECK: %[[L:.+]] = moe.gate %{{.+}}, %{{.+}} : tensor<2x16x8xf32>, tensor<8x4xf32> -> tensor<2x16x4xf32>
// CHECK: %[[P:.+]] = moe.route %[[L]] token_choice<k = 2, capacity_factor = 1.0> : tensor<2x16x4xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8>{{$}}
// CHECK: %[[S:.+]] = moe.dispatch %{{.+}}, %[[P]] : tensor<2x16x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8> -> tensor<4x16x8xf32>{{$}}
// CHECK: %[[Y:.+]] = moe.experts %[[S]] mlp(gelu) up %{{.+}} up_bias %{{.+}} down %{{.+}} down_bias %{{.+}} : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32xf32>, tensor<4x32x8xf32>, tensor<4x8xf32>) -> tensor<4x16x8xf32>{{$}}
// CHECK: moe.combine %[[Y]], %[[P]] : tensor<4x16x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8> -> tensor<2x16x8xf32>{{$}}
// CHECK: moe.route_stats %[[L]], %[[P]] : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8> -> tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>{{$}}
func.func @layer(%x: tensor<2x16x8xf32>, %wg: tensor<8x4xf32>,
                 %w1: tensor<4x8x32xf32>, %b1: tensor<4x32xf32>,
                 %w2: tensor<4x32x8xf32>, %b2: tensor<4x8xf32>)
    -> (tensor<2x16x8xf32>, tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>) {
  %l = moe.gate %x, %wg : tensor<2x16x8xf32>, tensor<8x4xf32> -> tensor<2x16x4xf32>
  %p = moe.route %l token_choice<k = 2, capacity_factor = 1.0>
      : tensor<2x16x4xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8>
  %s = moe.dispatch %x, %p : tensor<2x16x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8> -> tensor<4x16x8xf32>
  %y = moe.experts %s mlp(gelu) up %w1 up_bias %b1 down %w2 down_bias %b2
      : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32xf32>, tensor<4x32x8xf32>, tensor<4x8xf32>) -> tensor<4x16x8xf32>
  %o = moe.combine %y, %p : tensor<4x16x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8> -> tensor<2x16x8xf32>
  %imp, %load, %dropped, %lost = moe.route_stats %l, %p
      : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8>
      -> tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>
  return %o, %imp, %load, %dropped, %lost
      : tensor<2x16x8xf32>, tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>
}

// The statistics with the optional count of invalid tokens.
// CHECK-LABEL: func.func @stats_invalid
// CHECK: moe.route_stats %{{.+}}, %{{.+}} : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8> -> tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>{{$}}
func.func @stats_invalid(%l: tensor<2x16x4xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8>) -> tensor<2xi64> {
  %imp, %load, %dropped, %lost, %invalid = moe.route_stats %l, %p
      : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8>
      -> tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>
  return %invalid : tensor<2xi64>
}

// The slot table of a plan, as tensors.
// CHECK-LABEL: func.func @plan_slots
// CHECK: moe.plan_slots %{{.+}} : !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8> -> tensor<2x4x8xi64>, tensor<2x4x8xf32>{{$}}
func.func @plan_slots(%p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8>)
    -> (tensor<2x4x8xi64>, tensor<2x4x8xf32>) {
  %t, %w = moe.plan_slots %p : !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 8>
      -> tensor<2x4x8xi64>, tensor<2x4x8xf32>
  return %t, %w : tensor<2x4x8xi64>, tensor<2x4x8xf32>
}

//===----------------------------------------------------------------------===//
// moe.experts: named MLP form, every activation, with and without biases
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @experts_mlp
// CHECK: moe.experts %{{.+}} mlp(relu) up %{{[^ ]+}} down %{{[^ ]+}} : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x6xf32>) -> tensor<4x16x6xf32>{{$}}
// CHECK: moe.experts %{{.+}} mlp(silu) up %{{[^ ]+}} up_bias %{{[^ ]+}} down %{{[^ ]+}} : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32xf32>, tensor<4x32x6xf32>) -> tensor<4x16x6xf32>{{$}}
// CHECK: moe.experts %{{.+}} mlp(gelu) up %{{[^ ]+}} down %{{[^ ]+}} down_bias %{{[^ ]+}} : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x6xf32>, tensor<4x6xf32>) -> tensor<4x16x6xf32>{{$}}
// CHECK: moe.experts %{{.+}} mlp(swiglu) up %{{[^ ]+}} down %{{[^ ]+}} : (tensor<4x16x8xf32>, tensor<4x8x64xf32>, tensor<4x32x6xf32>) -> tensor<4x16x6xf32>{{$}}
// CHECK: moe.experts %{{.+}} mlp(swiglu) up %{{[^ ]+}} up_bias %{{[^ ]+}} down %{{[^ ]+}} down_bias %{{[^ ]+}} : (tensor<4x16x8xf32>, tensor<4x8x64xf32>, tensor<4x64xf32>, tensor<4x32x6xf32>, tensor<4x6xf32>) -> tensor<4x16x6xf32>{{$}}
// CHECK: moe.experts %{{.+}} mlp(relu) up %{{[^ ]+}} up_bias %{{[^ ]+}} down %{{[^ ]+}} down_bias %{{[^ ]+}} : (tensor<4x16x8xbf16>, tensor<4x8x32xbf16>, tensor<4x32xbf16>, tensor<4x32x8xbf16>, tensor<4x8xbf16>) -> tensor<4x16x8xbf16>{{$}}
func.func @experts_mlp(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>,
                       %b1: tensor<4x32xf32>, %w13: tensor<4x8x64xf32>,
                       %b13: tensor<4x64xf32>, %w2: tensor<4x32x6xf32>,
                       %b2: tensor<4x6xf32>, %sb: tensor<4x16x8xbf16>,
                       %w1b: tensor<4x8x32xbf16>, %b1b: tensor<4x32xbf16>,
                       %w2b: tensor<4x32x8xbf16>, %b2b: tensor<4x8xbf16>) {
  %0 = moe.experts %s mlp(relu) up %w1 down %w2
      : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x6xf32>) -> tensor<4x16x6xf32>
  %1 = moe.experts %s mlp(silu) up %w1 up_bias %b1 down %w2
      : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32xf32>, tensor<4x32x6xf32>) -> tensor<4x16x6xf32>
  %2 = moe.experts %s mlp(gelu) up %w1 down %w2 down_bias %b2
      : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x6xf32>, tensor<4x6xf32>) -> tensor<4x16x6xf32>
  // swiglu: the up projection has 2h = 64 columns for h = 32.
  %3 = moe.experts %s mlp(swiglu) up %w13 down %w2
      : (tensor<4x16x8xf32>, tensor<4x8x64xf32>, tensor<4x32x6xf32>) -> tensor<4x16x6xf32>
  %4 = moe.experts %s mlp(swiglu) up %w13 up_bias %b13 down %w2 down_bias %b2
      : (tensor<4x16x8xf32>, tensor<4x8x64xf32>, tensor<4x64xf32>, tensor<4x32x6xf32>, tensor<4x6xf32>) -> tensor<4x16x6xf32>
  %5 = moe.experts %sb mlp(relu) up %w1b up_bias %b1b down %w2b down_bias %b2b
      : (tensor<4x16x8xbf16>, tensor<4x8x32xbf16>, tensor<4x32xbf16>, tensor<4x32x8xbf16>, tensor<4x8xbf16>) -> tensor<4x16x8xbf16>
  return
}

//===----------------------------------------------------------------------===//
// moe.experts: region form with moe.yield
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @experts_region
// CHECK: moe.experts %{{.+}} : (tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
// CHECK-NEXT: ^bb0(%[[E:.+]]: index, %[[X:.+]]: tensor<16x8xf32>):
// CHECK-NEXT: %[[R:.+]] = math.tanh %[[X]] : tensor<16x8xf32>
// CHECK-NEXT: moe.yield %[[R]] : tensor<16x8xf32>
// CHECK-NEXT: }
// Per-expert weights captured from above, indexed by the expert index; the
// expert changes the width (d = 8 -> d_out = 6).
// CHECK: moe.experts %{{.+}} : (tensor<4x16x8xf32>) -> tensor<4x16x6xf32> {
// CHECK-NEXT: ^bb0(%[[E2:.+]]: index, %[[X2:.+]]: tensor<16x8xf32>):
// CHECK: tensor.extract_slice
// CHECK: linalg.matmul
// CHECK: moe.yield %{{.+}} : tensor<16x6xf32>
// CHECK-NEXT: }
func.func @experts_region(%s: tensor<4x16x8xf32>, %w: tensor<4x8x6xf32>)
    -> (tensor<4x16x8xf32>, tensor<4x16x6xf32>) {
  %0 = moe.experts %s : (tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
  ^bb0(%e: index, %x: tensor<16x8xf32>):
    %r = math.tanh %x : tensor<16x8xf32>
    moe.yield %r : tensor<16x8xf32>
  }
  %1 = moe.experts %s : (tensor<4x16x8xf32>) -> tensor<4x16x6xf32> {
  ^bb0(%e: index, %x: tensor<16x8xf32>):
    %we = tensor.extract_slice %w[%e, 0, 0] [1, 8, 6] [1, 1, 1]
        : tensor<4x8x6xf32> to tensor<8x6xf32>
    %zero = arith.constant 0.0 : f32
    %init = tensor.empty() : tensor<16x6xf32>
    %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<16x6xf32>) -> tensor<16x6xf32>
    %r = linalg.matmul ins(%x, %we : tensor<16x8xf32>, tensor<8x6xf32>)
                       outs(%acc : tensor<16x6xf32>) -> tensor<16x6xf32>
    moe.yield %r : tensor<16x6xf32>
  }
  return %0, %1 : tensor<4x16x8xf32>, tensor<4x16x6xf32>
}

//===----------------------------------------------------------------------===//
// Soft MoE: dense dispatch/combine through a plan with p slots per expert
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @soft_layer
// CHECK: moe.route %{{.+}} soft<slots_per_expert = 2> : tensor<2x16x8xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 2>{{$}}
// CHECK: moe.dispatch %{{.+}}, %{{.+}} : tensor<2x16x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 2> -> tensor<4x4x8xf32>{{$}}
// CHECK: moe.combine %{{.+}}, %{{.+}} : tensor<4x4x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 2> -> tensor<2x16x8xf32>{{$}}
func.func @soft_layer(%x: tensor<2x16x8xf32>, %phi: tensor<8x4x2xf32>, %scale: tensor<f32>,
                      %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x8xf32>) -> tensor<2x16x8xf32> {
  %l = moe.gate %x, %phi scale %scale : tensor<2x16x8xf32>, tensor<8x4x2xf32>, tensor<f32> -> tensor<2x16x8xf32>
  %p = moe.route %l soft<slots_per_expert = 2>
      : tensor<2x16x8xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 2>
  %s = moe.dispatch %x, %p : tensor<2x16x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 2> -> tensor<4x4x8xf32>
  %y = moe.experts %s mlp(gelu) up %w1 down %w2
      : (tensor<4x4x8xf32>, tensor<4x8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x4x8xf32>
  %o = moe.combine %y, %p : tensor<4x4x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 2> -> tensor<2x16x8xf32>
  return %o : tensor<2x16x8xf32>
}

//===----------------------------------------------------------------------===//
// token_choice (S = 16, E = 4)
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @token_choice
func.func @token_choice(%l: tensor<1x16x4xf32>) {
  // Every default written out: printing omits them all.
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.0> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %0 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, rounding = ceil, multiple_of = 4, priority = position, score = softmax>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // An integer capacity factor reads as a float.
  // CHECK: moe.route %{{.+}} token_choice<k = 1, capacity_factor = 2.0> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %1 = moe.route %l token_choice<k = 1, capacity_factor = 2>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // So do integers with an exponent (read by the MLIR lexer as an integer and
  // an identifier): 2e0, 20E-1, 2e+0 and 200e-2 are all 2.0.
  // CHECK-COUNT-4: moe.route %{{.+}} token_choice<k = 1, capacity_factor = 2.0> : tensor<1x16x4xf32>
  %e0 = moe.route %l token_choice<k = 1, capacity_factor = 2e0>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  %e1 = moe.route %l token_choice<k = 1, capacity_factor = 20E-1>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  %e2 = moe.route %l token_choice<k = 1, capacity_factor = 2e+0>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  %e3 = moe.route %l token_choice<k = 1, capacity_factor = 200e-2>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // A fixed capacity is used as given (not rounded to a multiple of 4).
  // CHECK: moe.route %{{.+}} token_choice<k = 1, capacity = 3> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 3>{{$}}
  %2 = moe.route %l token_choice<k = 1, capacity = 3>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 3>
  // Dropless: C = S.
  // CHECK: moe.route %{{.+}} token_choice<k = 2, dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>{{$}}
  %3 = moe.route %l token_choice<k = 2, dropless>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  // raw = 16 * 1 * 1.1 / 4 = 4.4: ceil 5 -> 8, round 4 -> 4.
  // CHECK: moe.route %{{.+}} token_choice<k = 1, capacity_factor = 1.1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %4 = moe.route %l token_choice<k = 1, capacity_factor = 1.1>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // CHECK: moe.route %{{.+}} token_choice<k = 1, capacity_factor = 1.1, rounding = round> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>{{$}}
  %5 = moe.route %l token_choice<k = 1, capacity_factor = 1.1, rounding = round>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  // multiple_of = 1 disables the rounding up: ceil(4.4) = 5.
  // CHECK: moe.route %{{.+}} token_choice<k = 1, capacity_factor = 1.1, multiple_of = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 5>{{$}}
  %6 = moe.route %l token_choice<k = 1, capacity_factor = 1.1, multiple_of = 1>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 5>
  // round is half-to-even: 4.5 -> 4 and 5.5 -> 6.
  // CHECK: moe.route %{{.+}} token_choice<k = 1, capacity_factor = 1.125, rounding = round, multiple_of = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>{{$}}
  %7 = moe.route %l token_choice<k = 1, capacity_factor = 1.125, rounding = round, multiple_of = 1>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  // CHECK: moe.route %{{.+}} token_choice<k = 1, capacity_factor = 1.375, rounding = round, multiple_of = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 6>{{$}}
  %8 = moe.route %l token_choice<k = 1, capacity_factor = 1.375, rounding = round, multiple_of = 1>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 6>
  // multiple_of = 3: 8 -> 9.
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.0, multiple_of = 3> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 9>{{$}}
  %9 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, multiple_of = 3>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 9>
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.0, priority = bpr> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %10 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, priority = bpr>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // CHECK: moe.route %{{.+}} token_choice<k = 2, dropless, score = sigmoid> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>{{$}}
  %11 = moe.route %l token_choice<k = 2, dropless, score = sigmoid>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  // CHECK: moe.route %{{.+}} token_choice<k = 2, dropless, renormalize> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>{{$}}
  %12 = moe.route %l token_choice<k = 2, dropless, renormalize>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  // Sinkhorn with default parameters, written or not, prints bare.
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.0, score = sinkhorn> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %13 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, score = sinkhorn>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.0, score = sinkhorn> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %14 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, score = sinkhorn<iterations = 20, epsilon = 1.0>>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.0, score = sinkhorn<iterations = 10>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %15 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, score = sinkhorn<iterations = 10>>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.0, score = sinkhorn<epsilon = 0.5>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %16 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, score = sinkhorn<iterations = 20, epsilon = 0.5>>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // A small epsilon prints with an exponent that reads back as a float.
  // CHECK: moe.route %{{.+}} token_choice<k = 1, capacity = 4, score = sinkhorn<iterations = 3, epsilon = 1.0e-05>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>{{$}}
  %17 = moe.route %l token_choice<k = 1, capacity = 4, score = sinkhorn<epsilon = 0.00001, iterations = 3>>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  // Every parameter, in a scrambled order: printed in the canonical order.
  // raw = 16 * 2 * 1.25 / 4 = 10, round 10, multiple of 2: 10.
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.25, rounding = round, multiple_of = 2, priority = bpr, score = sinkhorn<iterations = 3, epsilon = 0.25>, renormalize> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 10>{{$}}
  %18 = moe.route %l token_choice<renormalize, score = sinkhorn<epsilon = 0.25, iterations = 3>, priority = bpr, multiple_of = 2, rounding = round, capacity_factor = 1.25, k = 2>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 10>
  // k = E is allowed.
  // CHECK: moe.route %{{.+}} token_choice<k = 4, dropless, priority = bpr, score = sigmoid, renormalize> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>{{$}}
  %19 = moe.route %l token_choice<k = 4, dropless, priority = bpr, score = sigmoid, renormalize>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

//===----------------------------------------------------------------------===//
// expert_choice (S = 16, E = 4)
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @expert_choice
func.func @expert_choice(%l: tensor<1x16x4xf32>) {
  // CHECK: moe.route %{{.+}} expert_choice<capacity_factor = 1.0> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>{{$}}
  %0 = moe.route %l expert_choice<capacity_factor = 1.0, rounding = ceil, multiple_of = 4, score = softmax>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  // CHECK: moe.route %{{.+}} expert_choice<capacity = 3> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 3>{{$}}
  %1 = moe.route %l expert_choice<capacity = 3>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 3>
  // raw = 16 * 0.625 / 4 = 2.5: round half to even 2, multiple 1.
  // CHECK: moe.route %{{.+}} expert_choice<capacity_factor = 0.625, rounding = round, multiple_of = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>{{$}}
  %2 = moe.route %l expert_choice<capacity_factor = 0.625, rounding = round, multiple_of = 1>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  // CHECK: moe.route %{{.+}} expert_choice<capacity_factor = 1.0, score = sinkhorn> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>{{$}}
  %3 = moe.route %l expert_choice<capacity_factor = 1.0, score = sinkhorn>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  // CHECK: moe.route %{{.+}} expert_choice<capacity = 2, score = sinkhorn<iterations = 7, epsilon = 2.0>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>{{$}}
  %4 = moe.route %l expert_choice<capacity = 2, score = sinkhorn<iterations = 7, epsilon = 2.0>>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  // CHECK: moe.route %{{.+}} expert_choice<capacity_factor = 1.0, score = ksparse_ot> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>{{$}}
  %5 = moe.route %l expert_choice<capacity_factor = 1.0, score = ksparse_ot<iterations = 20, learning_rate = 0.01>>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  // CHECK: moe.route %{{.+}} expert_choice<capacity_factor = 2.0, score = ksparse_ot<iterations = 50>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %6 = moe.route %l expert_choice<capacity_factor = 2.0, score = ksparse_ot<iterations = 50>>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // CHECK: moe.route %{{.+}} expert_choice<capacity_factor = 2.0, score = ksparse_ot<learning_rate = 0.05>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %7 = moe.route %l expert_choice<capacity_factor = 2.0, score = ksparse_ot<learning_rate = 0.05>>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // CHECK: moe.route %{{.+}} expert_choice<capacity_factor = 1.5, rounding = round, multiple_of = 2, score = ksparse_ot<iterations = 5, learning_rate = 0.001>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 6>{{$}}
  %8 = moe.route %l expert_choice<score = ksparse_ot<learning_rate = 1.0e-3, iterations = 5>, multiple_of = 2, rounding = round, capacity_factor = 1.5>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 6>
  // An expert may take every token of the group.
  // CHECK: moe.route %{{.+}} expert_choice<capacity = 16> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>{{$}}
  %9 = moe.route %l expert_choice<capacity = 16>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

//===----------------------------------------------------------------------===//
// soft
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @soft
func.func @soft(%l1: tensor<2x16x4xf32>, %l3: tensor<2x16x12xf32>) {
  // CHECK: moe.route %{{.+}} soft<slots_per_expert = 1> : tensor<2x16x4xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 1>{{$}}
  %0 = moe.route %l1 soft<slots_per_expert = 1>
      : tensor<2x16x4xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 1>
  // 12 logits per token: 4 experts of 3 slots.
  // CHECK: moe.route %{{.+}} soft<slots_per_expert = 3> : tensor<2x16x12xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 3>{{$}}
  %1 = moe.route %l3 soft<slots_per_expert = 3>
      : tensor<2x16x12xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 3>
  // ... or 6 experts of 2 slots.
  // CHECK: moe.route %{{.+}} soft<slots_per_expert = 2> : tensor<2x16x12xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 6, capacity = 2>{{$}}
  %2 = moe.route %l3 soft<slots_per_expert = 2>
      : tensor<2x16x12xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 6, capacity = 2>
  // The capacity-factor form: p = round(16 * 0.75 / 4) = 3 slots per expert.
  // CHECK: moe.route %{{.+}} soft<capacity_factor = 0.75> : tensor<2x16x12xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 3>{{$}}
  %3 = moe.route %l3 soft<capacity_factor = 0.75>
      : tensor<2x16x12xf32> -> !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 3>
  return
}

//===----------------------------------------------------------------------===//
// per_image (S = 16 tokens = 4 items of 4 tokens, E = 4)
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @per_image
func.func @per_image(%l: tensor<1x16x4xf32>) {
  // Dropless is the default: C = S.
  // CHECK: moe.route %{{.+}} per_image<tokens_per_item = 4, k = 1, pooling = cls> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>{{$}}
  %0 = moe.route %l per_image<tokens_per_item = 4, k = 1, pooling = cls>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  // CHECK: moe.route %{{.+}} per_image<tokens_per_item = 4, k = 2, pooling = mean> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>{{$}}
  %1 = moe.route %l per_image<pooling = mean, dropless, k = 2, tokens_per_item = 4>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  // Capacity in items: ceil(4 * 1 * 1.0 / 4) = 1 item -> multiple of 4: 4 items = 16 tokens.
  // CHECK: moe.route %{{.+}} per_image<tokens_per_item = 4, k = 1, pooling = mean, capacity_factor = 1.0> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>{{$}}
  %2 = moe.route %l per_image<tokens_per_item = 4, k = 1, pooling = mean, capacity_factor = 1.0>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  // ... with multiple_of = 1: 1 item = 4 tokens.
  // CHECK: moe.route %{{.+}} per_image<tokens_per_item = 4, k = 1, pooling = mean, capacity_factor = 1.0, multiple_of = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>{{$}}
  %3 = moe.route %l per_image<tokens_per_item = 4, k = 1, pooling = mean, capacity_factor = 1.0, multiple_of = 1>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  // round(4 * 2 * 1.25 / 4) = round(2.5) = 2 items = 8 tokens.
  // CHECK: moe.route %{{.+}} per_image<tokens_per_item = 4, k = 2, pooling = cls, capacity_factor = 1.25, rounding = round, multiple_of = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
  %4 = moe.route %l per_image<tokens_per_item = 4, k = 2, pooling = cls, capacity_factor = 1.25, rounding = round, multiple_of = 1>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  // A fixed capacity of 3 items = 12 tokens.
  // CHECK: moe.route %{{.+}} per_image<tokens_per_item = 4, k = 2, pooling = mean, capacity = 3> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 12>{{$}}
  %5 = moe.route %l per_image<tokens_per_item = 4, k = 2, pooling = mean, capacity = 3>
      : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 12>
  return
}

//===----------------------------------------------------------------------===//
// The generic form of moe.route carries the router as `#moe.<router>`
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @generic_route
// CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.0, priority = bpr> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>{{$}}
// CHECK: moe.route %{{.+}} expert_choice<capacity = 2, score = ksparse_ot<iterations = 4>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>{{$}}
// CHECK: moe.route %{{.+}} soft<slots_per_expert = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 1>{{$}}
// CHECK: moe.route %{{.+}} per_image<tokens_per_item = 2, k = 1, pooling = mean, capacity = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>{{$}}
func.func @generic_route(%l: tensor<1x16x4xf32>) {
  %0 = "moe.route"(%l) <{router = #moe.token_choice<k = 2, capacity_factor = 1.0, priority = bpr>}>
      : (tensor<1x16x4xf32>) -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  %1 = "moe.route"(%l) <{router = #moe.expert_choice<capacity = 2, score = ksparse_ot<iterations = 4>>}>
      : (tensor<1x16x4xf32>) -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  %2 = "moe.route"(%l) <{router = #moe.soft<slots_per_expert = 1>}>
      : (tensor<1x16x4xf32>) -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 1>
  %3 = "moe.route"(%l) <{router = #moe.per_image<tokens_per_item = 2, k = 1, pooling = mean, capacity = 1>}>
      : (tensor<1x16x4xf32>) -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  return
}

// Router and score attributes on their own, outside moe.route.
// CHECK-LABEL: func.func @attributes
// CHECK-SAME: a = #moe.token_choice<k = 1, capacity = 3, score = sigmoid>
// CHECK-SAME: b = #moe.expert_choice<capacity_factor = 1.5>
// CHECK-SAME: c = #moe.soft<slots_per_expert = 4>
// CHECK-SAME: d = #moe.per_image<tokens_per_item = 197, k = 2, pooling = cls>
// CHECK-SAME: e = #moe.softmax
// CHECK-SAME: f = #moe.sigmoid
// CHECK-SAME: g = #moe.sinkhorn,
// CHECK-SAME: h = #moe.sinkhorn<iterations = 2, epsilon = 0.1>
// CHECK-SAME: i = #moe.ksparse_ot,
// CHECK-SAME: j = #moe.ksparse_ot<iterations = 9, learning_rate = 0.2>
// CHECK-SAME: k = #moe<activation swiglu>
func.func @attributes() attributes {
    a = #moe.token_choice<k = 1, capacity = 3, score = sigmoid>,
    b = #moe.expert_choice<capacity_factor = 1.5, score = softmax>,
    c = #moe.soft<slots_per_expert = 4>,
    d = #moe.per_image<tokens_per_item = 197, k = 2, pooling = cls, dropless>,
    e = #moe.softmax, f = #moe.sigmoid,
    g = #moe.sinkhorn<iterations = 20>,
    h = #moe.sinkhorn<iterations = 2, epsilon = 0.1>,
    i = #moe.ksparse_ot,
    j = #moe.ksparse_ot<iterations = 9, learning_rate = 0.2>,
    k = #moe<activation swiglu>} {
  return
}

//===----------------------------------------------------------------------===//
// docs/routers.md §2 worked values: the plan capacity must be exactly these
// (invalid.mlir checks that one off is rejected)
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @worked_capacities
func.func @worked_capacities(%l1576: tensor<1x1576x8xf32>, %l400: tensor<1x400x8xf32>,
                             %l4616: tensor<1x4616x8xf32>, %l196: tensor<1x196x128xf32>) {
  // (S = 1576, k = 2, E = 8, cf = 1.05): ceil(414.0...) = 414 -> 416.
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.05> : tensor<1x1576x8xf32> -> !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>{{$}}
  %0 = moe.route %l1576 token_choice<k = 2, capacity_factor = 1.05>
      : tensor<1x1576x8xf32> -> !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
  // (400, 2, 8, 1.05) -> 108.
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.05> : tensor<1x400x8xf32> -> !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 108>{{$}}
  %1 = moe.route %l400 token_choice<k = 2, capacity_factor = 1.05>
      : tensor<1x400x8xf32> -> !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 108>
  // (400, 2, 8, 4.0) -> 400.
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 4.0> : tensor<1x400x8xf32> -> !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 400>{{$}}
  %2 = moe.route %l400 token_choice<k = 2, capacity_factor = 4.0>
      : tensor<1x400x8xf32> -> !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 400>
  // (4616, 2, 8, 1.5) -> 1731 -> 1732.
  // CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.5> : tensor<1x4616x8xf32> -> !moe.plan<groups = 1, tokens = 4616, experts = 8, capacity = 1732>{{$}}
  %3 = moe.route %l4616 token_choice<k = 2, capacity_factor = 1.5>
      : tensor<1x4616x8xf32> -> !moe.plan<groups = 1, tokens = 4616, experts = 8, capacity = 1732>
  // Expert choice (196, E = 128, cf = 1.0, round, multiple 1): round(1.53) = 2.
  // CHECK: moe.route %{{.+}} expert_choice<capacity_factor = 1.0, rounding = round, multiple_of = 1> : tensor<1x196x128xf32> -> !moe.plan<groups = 1, tokens = 196, experts = 128, capacity = 2>{{$}}
  %4 = moe.route %l196 expert_choice<capacity_factor = 1.0, rounding = round, multiple_of = 1>
      : tensor<1x196x128xf32> -> !moe.plan<groups = 1, tokens = 196, experts = 128, capacity = 2>
  return
}

// A dynamic number of groups: `groups = ?`, tensors of `?` groups (slots
// `? = groups * capacity` per expert).
// CHECK-LABEL: func.func @dynamic_groups
// CHECK: moe.route %{{.+}} token_choice<k = 1, capacity_factor = 1.0> : tensor<?x8x4xf32> -> !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4>{{$}}
// CHECK: moe.dispatch %{{.+}}, %{{.+}} : tensor<?x8x16xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4> -> tensor<4x?x16xf32>
// CHECK: moe.combine %{{.+}}, %{{.+}} : tensor<4x?x16xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4> -> tensor<?x8x16xf32>
// CHECK: moe.route_stats {{.*}} -> tensor<?xf32>, tensor<?x4xi64>, tensor<?xi64>, tensor<?xi64>
func.func @dynamic_groups(%x: tensor<?x8x16xf32>, %w: tensor<16x4xf32>) -> (tensor<?x8x16xf32>, tensor<?x4xi64>) {
  %logits = moe.gate %x, %w : tensor<?x8x16xf32>, tensor<16x4xf32> -> tensor<?x8x4xf32>
  %plan = moe.route %logits token_choice<k = 1, capacity_factor = 1.0>
      : tensor<?x8x4xf32> -> !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4>
  %slots = moe.dispatch %x, %plan : tensor<?x8x16xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4> -> tensor<4x?x16xf32>
  %out = moe.combine %slots, %plan : tensor<4x?x16xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4> -> tensor<?x8x16xf32>
  %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan
      : tensor<?x8x4xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4>
      -> tensor<?xf32>, tensor<?x4xi64>, tensor<?xi64>, tensor<?xi64>
  return %out, %load : tensor<?x8x16xf32>, tensor<?x4xi64>
}
