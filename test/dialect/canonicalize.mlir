// RUN: moe-opt %s --canonicalize --split-input-file | FileCheck %s

// Per-image routing of one-token items is token choice: the route becomes
// #moe.token_choice with the same k and capacity, position priority and
// softmax score; the plan type does not change.

// CHECK-LABEL: func.func @per_image_dropless
// CHECK: %[[P:.+]] = moe.route %{{.+}} token_choice<k = 2, dropless> : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>{{$}}
// CHECK-NOT: per_image
// CHECK: return %[[P]]
func.func @per_image_dropless(%l: tensor<1x64x8xf32>)
    -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64> {
  %p = moe.route %l per_image<tokens_per_item = 1, k = 2, pooling = cls>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
  return %p : !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
}

// -----

// The capacity factor, rounding and multiple_of carry over; the pooling of a
// one-token item is the token itself, whichever it is.
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
// CHECK-NOT: per_image
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
// CHECK: moe.route %{{.+}} expert_choice<capacity = 8> : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 8>{{$}}
func.func @not_rewritten(%l: tensor<1x64x8xf32>)
    -> (!moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 32>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 16>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 8>) {
  %0 = moe.route %l per_image<tokens_per_item = 2, k = 1, pooling = cls>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
  %1 = moe.route %l per_image<tokens_per_item = 32, k = 2, pooling = mean, capacity = 1>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 32>
  %2 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, priority = bpr, score = sigmoid>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 16>
  %3 = moe.route %l expert_choice<capacity = 8>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 8>
  return %0, %1, %2, %3
      : !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 32>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 16>,
        !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 8>
}

// -----

// The moe ops are Pure: --canonicalize removes an unused route, and folds the
// surrounding arithmetic.
// CHECK-LABEL: func.func @dead_route
// CHECK-NOT: moe.route
// CHECK-NOT: arith.addi
// CHECK: %[[C:.+]] = arith.constant 3 : i32
// CHECK: return %[[C]]
func.func @dead_route(%l: tensor<1x64x8xf32>) -> i32 {
  %p = moe.route %l per_image<tokens_per_item = 1, k = 2, pooling = cls>
      : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
  %a = arith.constant 1 : i32
  %b = arith.constant 2 : i32
  %c = arith.addi %a, %b : i32
  return %c : i32
}
