// RUN: moe-opt %s --moe-canonicalize --split-input-file | FileCheck %s

// --moe-canonicalize applies the moe canonicalization patterns and nothing
// else: per_image routing of one-token items becomes token choice, and the
// surrounding IR is neither folded nor cleaned up.

// CHECK-LABEL: func.func @per_image_dropless
// CHECK: moe.route %{{.+}} token_choice<k = 2, dropless> : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>{{$}}
// CHECK-NOT: per_image
func.func @per_image_dropless(%l: tensor<1x64x8xf32>)
    -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64> {
  %p = moe.route %l per_image<tokens_per_item = 1, k = 2, pooling = cls>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
  return %p : !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
}

// -----

// ceil(64 * 1 * 1.25 / 8) = 10 -> multiple of 2: 10.
// CHECK-LABEL: func.func @per_image_capacity_factor
// CHECK: moe.route %{{.+}} token_choice<k = 1, capacity_factor = 1.25, rounding = round, multiple_of = 2> : tensor<2x64x8xf32> -> !moe.plan<groups = 2, tokens = 64, experts = 8, capacity = 10>{{$}}
// CHECK-NOT: per_image
func.func @per_image_capacity_factor(%l: tensor<2x64x8xf32>)
    -> !moe.plan<groups = 2, tokens = 64, experts = 8, capacity = 10> {
  %p = moe.route %l per_image<tokens_per_item = 1, k = 1, pooling = mean, capacity_factor = 1.25, rounding = round, multiple_of = 2>
      : tensor<2x64x8xf32> -> !moe.plan<groups = 2, tokens = 64, experts = 8, capacity = 10>
  return %p : !moe.plan<groups = 2, tokens = 64, experts = 8, capacity = 10>
}

// -----

// CHECK-LABEL: func.func @per_image_fixed_capacity
// CHECK: moe.route %{{.+}} token_choice<k = 2, capacity = 5> : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 5>{{$}}
func.func @per_image_fixed_capacity(%l: tensor<1x64x8xf32>)
    -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 5> {
  %p = moe.route %l per_image<tokens_per_item = 1, k = 2, pooling = mean, capacity = 5>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 5>
  return %p : !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 5>
}

// -----

// Not rewritten: items of more than one token, and the other routers.
// CHECK-LABEL: func.func @not_rewritten
// CHECK: moe.route %{{.+}} per_image<tokens_per_item = 2, k = 1, pooling = cls> : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>{{$}}
// CHECK: moe.route %{{.+}} per_image<tokens_per_item = 32, k = 2, pooling = mean, capacity = 1> : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 32>{{$}}
// CHECK: moe.route %{{.+}} token_choice<k = 2, capacity_factor = 1.0, priority = bpr, score = sigmoid> : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 16>{{$}}
// CHECK: moe.route %{{.+}} soft<slots_per_expert = 1> : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 1>{{$}}
func.func @not_rewritten(%l: tensor<1x64x8xf32>)
    -> (!moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 32>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 16>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 1>) {
  %0 = moe.route %l per_image<tokens_per_item = 2, k = 1, pooling = cls>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
  %1 = moe.route %l per_image<tokens_per_item = 32, k = 2, pooling = mean, capacity = 1>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 32>
  %2 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, priority = bpr, score = sigmoid>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 16>
  %3 = moe.route %l soft<slots_per_expert = 1>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 1>
  return %0, %1, %2, %3
      : !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 32>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 16>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 1>
}

// -----

// Only the moe patterns run: the arithmetic around the route is not folded
// (compare test/dialect/canonicalize.mlir, where it is).
// CHECK-LABEL: func.func @only_moe_patterns
// CHECK: %[[P:.+]] = moe.route %{{.+}} token_choice<k = 2, dropless> : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>{{$}}
// CHECK: %[[A:.+]] = arith.constant 1 : i32
// CHECK: %[[B:.+]] = arith.constant 2 : i32
// CHECK: %[[C:.+]] = arith.addi %[[A]], %[[B]] : i32
// CHECK: return %[[P]], %[[C]]
func.func @only_moe_patterns(%l: tensor<1x64x8xf32>)
    -> (!moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>, i32) {
  %p = moe.route %l per_image<tokens_per_item = 1, k = 2, pooling = cls>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
  %a = arith.constant 1 : i32
  %b = arith.constant 2 : i32
  %c = arith.addi %a, %b : i32
  return %p, %c : !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>, i32
}

// -----

// A whole layer: the rewritten plan still feeds dispatch and combine.
// CHECK-LABEL: func.func @layer
// CHECK: %[[P:.+]] = moe.route %{{.+}} token_choice<k = 1, dropless> : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>{{$}}
// CHECK: moe.dispatch %{{.+}}, %[[P]]
// CHECK: moe.experts
// CHECK: moe.combine %{{.+}}, %[[P]]
func.func @layer(%x: tensor<1x8x16xf32>, %wg: tensor<16x4xf32>,
                 %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) -> tensor<1x8x16xf32> {
  %l = moe.gate %x, %wg : tensor<1x8x16xf32>, tensor<16x4xf32> -> tensor<1x8x4xf32>
  %p = moe.route %l per_image<tokens_per_item = 1, k = 1, pooling = cls>
      : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
  %s = moe.dispatch %x, %p : tensor<1x8x16xf32>, !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> -> tensor<4x8x16xf32>
  %y = moe.experts %s mlp(relu) up %w1 down %w2
      : (tensor<4x8x16xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<4x8x16xf32>
  %o = moe.combine %y, %p : tensor<4x8x16xf32>, !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8> -> tensor<1x8x16xf32>
  return %o : tensor<1x8x16xf32>
}
