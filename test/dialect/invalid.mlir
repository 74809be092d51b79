// RUN: moe-opt %s -split-input-file -verify-diagnostics

// Every verifier and parser rule of the moe dialect, one case each at least.

//===----------------------------------------------------------------------===//
// moe.gate
//===----------------------------------------------------------------------===//

func.func @gate_d_mismatch(%x: tensor<1x16x8xf32>, %w: tensor<6x4xf32>) {
  // expected-error@+1 {{'moe.gate' op router weight has 6 rows but the tokens have d = 8}}
  %0 = moe.gate %x, %w : tensor<1x16x8xf32>, tensor<6x4xf32> -> tensor<1x16x4xf32>
  return
}

// -----

func.func @gate_result_shape(%x: tensor<1x16x8xf32>, %w: tensor<8x4xf32>) {
  // expected-error@+1 {{'moe.gate' op logits must have shape [1, 16, 4], got [1, 16, 5]}}
  %0 = moe.gate %x, %w : tensor<1x16x8xf32>, tensor<8x4xf32> -> tensor<1x16x5xf32>
  return
}

// -----

// Soft MoE form: E * p = 4 * 2 logits per token.
func.func @gate_soft_result_shape(%x: tensor<1x16x8xf32>, %phi: tensor<8x4x2xf32>, %s: tensor<f32>) {
  // expected-error@+1 {{'moe.gate' op logits must have shape [1, 16, 8], got [1, 16, 4]}}
  %0 = moe.gate %x, %phi scale %s : tensor<1x16x8xf32>, tensor<8x4x2xf32>, tensor<f32> -> tensor<1x16x4xf32>
  return
}

// -----

func.func @gate_weight_rank(%x: tensor<1x16x8xf32>, %w: tensor<8x4x2xf32>) {
  // expected-error@+1 {{'moe.gate' op router weight must be [d, E], got rank 3}}
  %0 = moe.gate %x, %w : tensor<1x16x8xf32>, tensor<8x4x2xf32> -> tensor<1x16x8xf32>
  return
}

// -----

func.func @gate_soft_weight_rank(%x: tensor<1x16x8xf32>, %w: tensor<8x4xf32>, %s: tensor<f32>) {
  // expected-error@+1 {{'moe.gate' op Soft MoE weight phi must be [d, E, p], got rank 2}}
  %0 = moe.gate %x, %w scale %s : tensor<1x16x8xf32>, tensor<8x4xf32>, tensor<f32> -> tensor<1x16x4xf32>
  return
}

// -----

func.func @gate_element_type(%x: tensor<1x16x8xbf16>, %w: tensor<8x4xf32>) {
  // expected-error@+1 {{'moe.gate' op router weight element type 'f32' differs from 'bf16'}}
  %0 = moe.gate %x, %w : tensor<1x16x8xbf16>, tensor<8x4xf32> -> tensor<1x16x4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Router parameters (token_choice, expert_choice)
//===----------------------------------------------------------------------===//

func.func @k_below_one(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{k must be >= 1, got 0}}
  %0 = moe.route %l token_choice<k = 0, dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @k_above_experts(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op k = 5 exceeds the number of experts (4)}}
  %0 = moe.route %l token_choice<k = 5, dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @k_missing(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{token_choice needs 'k = <experts per token>'}}
  %0 = moe.route %l token_choice<dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @capacity_factor_zero(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{capacity_factor must be a finite number > 0, got 0}}
  %0 = moe.route %l token_choice<k = 1, capacity_factor = 0.0> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @capacity_factor_negative(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{capacity_factor must be a finite number > 0, got -1.5}}
  %0 = moe.route %l expert_choice<capacity_factor = -1.5> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @capacity_and_factor(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{give either capacity_factor or capacity, not both}}
  %0 = moe.route %l token_choice<k = 1, capacity_factor = 1.0, capacity = 4> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @capacity_and_factor_generic(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{give either capacity_factor or capacity, not both}}
  %0 = "moe.route"(%l) <{router = #moe.expert_choice<capacity = 2, capacity_factor = 2.0>}> : (tensor<1x16x4xf32>) -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  return
}

// -----

func.func @token_choice_no_capacity(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{token choice needs one of capacity_factor, capacity or dropless}}
  %0 = moe.route %l token_choice<k = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @expert_choice_no_capacity(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{expert choice needs capacity_factor or capacity}}
  %0 = moe.route %l expert_choice<score = sinkhorn> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @dropless_with_capacity_factor(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{dropless routing takes no capacity_factor or capacity}}
  %0 = moe.route %l token_choice<k = 1, dropless, capacity_factor = 1.0> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @expert_choice_dropless(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{unknown expert_choice parameter 'dropless', expected one of capacity_factor, capacity, rounding, multiple_of, score}}
  %0 = moe.route %l expert_choice<capacity = 4, dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

// round(16 * 0.1 / 4) = round(0.4) = 0.
func.func @computed_capacity_below_one(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op computed capacity is below 1: round(16 * 0.1 / 4) = 0}}
  %0 = moe.route %l expert_choice<capacity_factor = 0.1, rounding = round> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

// Token choice counts S * k tokens: round(16 * 2 * 0.0625 / 4) = round(0.5) = 0 (half to even).
func.func @computed_capacity_half_to_even(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op computed capacity is below 1: round(32 * 0.0625 / 4) = 0}}
  %0 = moe.route %l token_choice<k = 2, capacity_factor = 0.0625, rounding = round> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @fixed_capacity_below_one(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{capacity must be >= 1, got 0}}
  %0 = moe.route %l token_choice<k = 1, capacity = 0> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @multiple_of_below_one(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{multiple_of must be >= 1, got 0}}
  %0 = moe.route %l token_choice<k = 1, capacity_factor = 1.0, multiple_of = 0> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @rounding_with_fixed_capacity(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{rounding and multiple_of apply only with capacity_factor}}
  %0 = moe.route %l token_choice<k = 1, capacity = 3, rounding = round> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 3>
  return
}

// -----

func.func @multiple_of_with_dropless(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{rounding and multiple_of apply only with capacity_factor}}
  %0 = moe.route %l token_choice<k = 1, dropless, multiple_of = 8> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @expert_choice_capacity_above_tokens(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op expert choice capacity 17 exceeds the 16 tokens of a group}}
  %0 = moe.route %l expert_choice<capacity = 17> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 17>
  return
}

// -----

func.func @unknown_router_keyword(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{unknown token_choice parameter 'bogus', expected one of k, capacity_factor, capacity, dropless, rounding, multiple_of, priority, score, renormalize}}
  %0 = moe.route %l token_choice<k = 1, dropless, bogus = 3> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @unknown_router(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{unknown router 'top_k'; expected token_choice, expert_choice, soft or per_image}}
  %0 = moe.route %l top_k<k = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @not_a_router_generic(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{Invalid attribute `router` in property conversion: #moe.softmax}}
  %0 = "moe.route"(%l) <{router = #moe.softmax}> : (tensor<1x16x4xf32>) -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @duplicate_parameter(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'k' is given twice}}
  %0 = moe.route %l token_choice<k = 1, k = 2, dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @duplicate_flag(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'renormalize' is given twice}}
  %0 = moe.route %l token_choice<k = 1, dropless, renormalize, renormalize> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @unknown_priority(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{unknown priority 'random', expected position or bpr}}
  %0 = moe.route %l token_choice<k = 1, dropless, priority = random> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @unknown_rounding(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{unknown rounding 'floor', expected ceil or round}}
  %0 = moe.route %l token_choice<k = 1, capacity_factor = 1.0, rounding = floor> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Scores
//===----------------------------------------------------------------------===//

func.func @unknown_score(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{unknown score 'relu', expected softmax, sigmoid, sinkhorn or ksparse_ot}}
  %0 = moe.route %l token_choice<k = 1, dropless, score = relu> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @sinkhorn_iterations(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{sinkhorn iterations must be >= 1, got 0}}
  %0 = moe.route %l token_choice<k = 1, dropless, score = sinkhorn<iterations = 0>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @sinkhorn_epsilon_zero(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{sinkhorn epsilon must be > 0, got 0}}
  %0 = moe.route %l token_choice<k = 1, dropless, score = sinkhorn<epsilon = 0.0>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @sinkhorn_epsilon_negative(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{sinkhorn epsilon must be > 0, got -0.5}}
  %0 = moe.route %l expert_choice<capacity = 4, score = sinkhorn<epsilon = -0.5>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @sinkhorn_unknown_parameter(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{unknown sinkhorn parameter 'learning_rate', expected one of iterations, epsilon}}
  %0 = moe.route %l token_choice<k = 1, dropless, score = sinkhorn<learning_rate = 0.1>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @sinkhorn_duplicate_parameter(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'iterations' is given twice}}
  %0 = moe.route %l token_choice<k = 1, dropless, score = sinkhorn<iterations = 2, iterations = 3>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @ksparse_ot_iterations(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{ksparse_ot iterations must be >= 1, got 0}}
  %0 = moe.route %l expert_choice<capacity = 4, score = ksparse_ot<iterations = 0>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @ksparse_ot_learning_rate(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{ksparse_ot learning_rate must be > 0, got 0}}
  %0 = moe.route %l expert_choice<capacity = 4, score = ksparse_ot<learning_rate = 0.0>> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @ksparse_ot_learning_rate_negative(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{ksparse_ot learning_rate must be > 0, got -0.01}}
  %0 = "moe.route"(%l) <{router = #moe.expert_choice<capacity = 4, score = ksparse_ot<learning_rate = -0.01>>}> : (tensor<1x16x4xf32>) -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @sigmoid_in_expert_choice(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{expert choice score must be softmax, sinkhorn or ksparse_ot, got #moe.sigmoid}}
  %0 = moe.route %l expert_choice<capacity = 4, score = sigmoid> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @ksparse_ot_in_token_choice(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{token choice score must be softmax, sigmoid or sinkhorn, got #moe.ksparse_ot}}
  %0 = moe.route %l token_choice<k = 1, dropless, score = ksparse_ot> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.route: the plan type must match the logits and the router
//===----------------------------------------------------------------------===//

// docs/routers.md §2 worked values, each off by one: the verifier names the
// expected plan.

func.func @worked_capacity_416(%l: tensor<1x1576x8xf32>) {
  // expected-error@+1 {{'moe.route' op plan capacity 415 differs from the router's capacity 416; expected '!moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>'}}
  %0 = moe.route %l token_choice<k = 2, capacity_factor = 1.05> : tensor<1x1576x8xf32> -> !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 415>
  return
}

// -----

func.func @worked_capacity_416_above(%l: tensor<1x1576x8xf32>) {
  // expected-error@+1 {{'moe.route' op plan capacity 417 differs from the router's capacity 416; expected '!moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>'}}
  %0 = moe.route %l token_choice<k = 2, capacity_factor = 1.05, priority = bpr> : tensor<1x1576x8xf32> -> !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 417>
  return
}

// -----

func.func @worked_capacity_108(%l: tensor<1x400x8xf32>) {
  // expected-error@+1 {{'moe.route' op plan capacity 107 differs from the router's capacity 108; expected '!moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 108>'}}
  %0 = moe.route %l token_choice<k = 2, capacity_factor = 1.05> : tensor<1x400x8xf32> -> !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 107>
  return
}

// -----

func.func @worked_capacity_400(%l: tensor<1x400x8xf32>) {
  // expected-error@+1 {{'moe.route' op plan capacity 401 differs from the router's capacity 400; expected '!moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 400>'}}
  %0 = moe.route %l token_choice<k = 2, capacity_factor = 4.0> : tensor<1x400x8xf32> -> !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 401>
  return
}

// -----

func.func @worked_capacity_1732(%l: tensor<1x4616x8xf32>) {
  // expected-error@+1 {{'moe.route' op plan capacity 1731 differs from the router's capacity 1732; expected '!moe.plan<groups = 1, tokens = 4616, experts = 8, capacity = 1732>'}}
  %0 = moe.route %l token_choice<k = 2, capacity_factor = 1.5> : tensor<1x4616x8xf32> -> !moe.plan<groups = 1, tokens = 4616, experts = 8, capacity = 1731>
  return
}

// -----

func.func @worked_capacity_expert_choice_2(%l: tensor<1x196x128xf32>) {
  // expected-error@+1 {{'moe.route' op plan capacity 1 differs from the router's capacity 2; expected '!moe.plan<groups = 1, tokens = 196, experts = 128, capacity = 2>'}}
  %0 = moe.route %l expert_choice<capacity_factor = 1.0, rounding = round, multiple_of = 1> : tensor<1x196x128xf32> -> !moe.plan<groups = 1, tokens = 196, experts = 128, capacity = 1>
  return
}

// -----

func.func @dropless_capacity_is_tokens(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op plan capacity 8 differs from the router's capacity 16; expected '!moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>'}}
  %0 = moe.route %l token_choice<k = 2, dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  return
}

// -----

func.func @fixed_capacity_mismatch(%l: tensor<1x16x4xf32>) {
  // A fixed capacity is not rounded up to a multiple of 4.
  // expected-error@+1 {{'moe.route' op plan capacity 4 differs from the router's capacity 3; expected '!moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 3>'}}
  %0 = moe.route %l expert_choice<capacity = 3> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

func.func @plan_groups_mismatch(%l: tensor<2x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op logits shape [2, 16, 4] does not match the plan's 1 groups of 16 tokens}}
  %0 = moe.route %l token_choice<k = 1, dropless> : tensor<2x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @plan_groups_static_and_dynamic(%l: tensor<2x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op logits shape [2, 16, 4] does not match the plan's ? groups of 16 tokens}}
  %0 = moe.route %l token_choice<k = 1, dropless> : tensor<2x16x4xf32> -> !moe.plan<groups = ?, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @slots_of_dynamic_groups(%x: tensor<?x8x16xf32>, %p: !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.dispatch' op slots must have shape [4, ?, 16], got [4, 32, 16]}}
  %0 = moe.dispatch %x, %p : tensor<?x8x16xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4> -> tensor<4x32x16xf32>
  return
}

// -----

// expected-error@+1 {{expected integer value}}
func.func @plan_groups_not_a_count(%p: !moe.plan<groups = x, tokens = 8, experts = 4, capacity = 4>) {
  return
}

// -----

func.func @plan_tokens_mismatch(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op logits shape [1, 16, 4] does not match the plan's 1 groups of 8 tokens}}
  %0 = moe.route %l token_choice<k = 1, dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 8>
  return
}

// -----

func.func @plan_experts_mismatch(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op logits have 4 entries per token but the router needs 8 for the plan's 8 experts}}
  %0 = moe.route %l token_choice<k = 1, dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 8, capacity = 16>
  return
}

// -----

func.func @plan_dimension_zero(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{plan dimensions must be at least 1, got groups = 1, tokens = 16, experts = 0, capacity = 16}}
  %0 = moe.route %l token_choice<k = 1, dropless> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 0, capacity = 16>
  return
}

// -----

func.func @route_logits_not_f32(%l: tensor<1x16x4xf16>) {
  // expected-error@+1 {{'moe.route' op operand #0 must be ranked tensor of 32-bit float values, but got 'tensor<1x16x4xf16>'}}
  %0 = moe.route %l token_choice<k = 1, dropless> : tensor<1x16x4xf16> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// soft
//===----------------------------------------------------------------------===//

func.func @slots_per_expert_below_one(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{slots_per_expert must be >= 1, got 0}}
  %0 = moe.route %l soft<slots_per_expert = 0> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 1>
  return
}

// -----

func.func @slots_per_expert_missing(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{unknown soft parameter 'capacity', expected one of slots_per_expert}}
  %0 = moe.route %l soft<capacity = 2> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  return
}

// -----

func.func @soft_logits_not_e_times_p(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op logits have 4 entries per token but the router needs 8 for the plan's 4 experts}}
  %0 = moe.route %l soft<slots_per_expert = 2> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  return
}

// -----

func.func @soft_plan_capacity(%l: tensor<1x16x8xf32>) {
  // expected-error@+1 {{'moe.route' op plan capacity 1 differs from the router's capacity 2; expected '!moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>'}}
  %0 = moe.route %l soft<slots_per_expert = 2> : tensor<1x16x8xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 1>
  return
}

// -----

//===----------------------------------------------------------------------===//
// per_image
//===----------------------------------------------------------------------===//

func.func @tokens_per_item_not_dividing(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op tokens_per_item = 5 does not divide the 16 tokens of a group}}
  %0 = moe.route %l per_image<tokens_per_item = 5, k = 1, pooling = cls> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @tokens_per_item_below_one(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{tokens_per_item must be >= 1, got 0}}
  %0 = moe.route %l per_image<tokens_per_item = 0, k = 1, pooling = cls> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @per_image_k_above_experts(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op k = 5 exceeds the number of experts (4)}}
  %0 = moe.route %l per_image<tokens_per_item = 4, k = 5, pooling = mean> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @per_image_pooling_missing(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{per_image needs tokens_per_item, k and pooling}}
  %0 = moe.route %l per_image<tokens_per_item = 4, k = 1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @unknown_pooling(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{unknown pooling 'max', expected cls or mean}}
  %0 = moe.route %l per_image<tokens_per_item = 4, k = 1, pooling = max> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 16>
  return
}

// -----

func.func @per_image_dropless_with_capacity(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{dropless routing takes no capacity_factor or capacity}}
  %0 = moe.route %l per_image<tokens_per_item = 4, k = 1, pooling = cls, dropless, capacity = 2> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  return
}

// -----

// Capacity counts items: 2 items of 4 tokens are 8 token slots.
func.func @per_image_capacity_in_items(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op plan capacity 2 differs from the router's capacity 8; expected '!moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>'}}
  %0 = moe.route %l per_image<tokens_per_item = 4, k = 1, pooling = cls, capacity = 2> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  return
}

// -----

// 4 items: round(4 * 1 * 0.25 / 4) = round(0.25) = 0.
func.func @per_image_computed_capacity_below_one(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op computed capacity is below 1: round(4 * 0.25 / 4) = 0}}
  %0 = moe.route %l per_image<tokens_per_item = 4, k = 1, pooling = cls, capacity_factor = 0.25, rounding = round> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.dispatch
//===----------------------------------------------------------------------===//

func.func @dispatch_result_shape(%x: tensor<1x16x8xf32>, %p: !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>) {
  // expected-error@+1 {{'moe.dispatch' op slots must have shape [4, 8, 8], got [4, 16, 8]}}
  %0 = moe.dispatch %x, %p : tensor<1x16x8xf32>, !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8> -> tensor<4x16x8xf32>
  return
}

// -----

// Slots of all groups, group-major: 2 groups * 4 slots = 8 per expert.
func.func @dispatch_result_groups(%x: tensor<2x16x8xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.dispatch' op slots must have shape [4, 8, 8], got [4, 4, 8]}}
  %0 = moe.dispatch %x, %p : tensor<2x16x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<4x4x8xf32>
  return
}

// -----

func.func @dispatch_input_shape(%x: tensor<2x16x8xf32>, %p: !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>) {
  // expected-error@+1 {{'moe.dispatch' op input shape [2, 16, 8] does not match the plan's 1 groups of 16 tokens}}
  %0 = moe.dispatch %x, %p : tensor<2x16x8xf32>, !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8> -> tensor<4x8x8xf32>
  return
}

// -----

func.func @dispatch_element_type(%x: tensor<1x16x8xf32>, %p: !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>) {
  // expected-error@+1 {{'moe.dispatch' op slots element type 'bf16' differs from 'f32'}}
  %0 = moe.dispatch %x, %p : tensor<1x16x8xf32>, !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8> -> tensor<4x8x8xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.combine
//===----------------------------------------------------------------------===//

func.func @combine_input_shape(%y: tensor<4x16x8xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.combine' op slots must have shape [4, 8, 8], got [4, 16, 8]}}
  %0 = moe.combine %y, %p : tensor<4x16x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2x16x8xf32>
  return
}

// -----

func.func @combine_output_shape(%y: tensor<4x8x8xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.combine' op output must have shape [2, 16, 8], got [1, 32, 8]}}
  %0 = moe.combine %y, %p : tensor<4x8x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<1x32x8xf32>
  return
}

// -----

func.func @combine_output_width(%y: tensor<4x8x8xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.combine' op output must have shape [2, 16, 8], got [2, 16, 6]}}
  %0 = moe.combine %y, %p : tensor<4x8x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2x16x6xf32>
  return
}

// -----

func.func @combine_element_type(%y: tensor<4x8x8xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.combine' op output element type 'f16' differs from 'f32'}}
  %0 = moe.combine %y, %p : tensor<4x8x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2x16x8xf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.plan_slots
//===----------------------------------------------------------------------===//

func.func @plan_slots_token_shape(%p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.plan_slots' op slot_token must have shape [2, 4, 4], got [2, 4, 16]}}
  %0:2 = moe.plan_slots %p : !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2x4x16xi64>, tensor<2x4x4xf32>
  return
}

// -----

func.func @plan_slots_weight_shape(%p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.plan_slots' op slot_weight must have shape [2, 4, 4], got [4, 4]}}
  %0:2 = moe.plan_slots %p : !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2x4x4xi64>, tensor<4x4xf32>
  return
}

// -----

func.func @plan_slots_token_type(%p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.plan_slots' op result #0 must be ranked tensor of 64-bit signless integer values, but got 'tensor<2x4x4xi32>'}}
  %0:2 = moe.plan_slots %p : !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2x4x4xi32>, tensor<2x4x4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.route_stats
//===----------------------------------------------------------------------===//

func.func @route_stats_importance_shape(%l: tensor<2x16x4xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.route_stats' op importance_loss must have shape [2], got []}}
  %0:4 = moe.route_stats %l, %p : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<f32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>
  return
}

// -----

func.func @route_stats_load_shape(%l: tensor<2x16x4xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.route_stats' op expert_load must have shape [2, 4], got [2, 8]}}
  %0:4 = moe.route_stats %l, %p : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2xf32>, tensor<2x8xi64>, tensor<2xi64>, tensor<2xi64>
  return
}

// -----

func.func @route_stats_dropped_assignments_shape(%l: tensor<2x16x4xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.route_stats' op dropped_assignments must have shape [2], got [1]}}
  %0:4 = moe.route_stats %l, %p : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2xf32>, tensor<2x4xi64>, tensor<1xi64>, tensor<2xi64>
  return
}

// -----

func.func @route_stats_dropped_tokens_shape(%l: tensor<2x16x4xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.route_stats' op dropped_tokens must have shape [2], got [2, 1]}}
  %0:4 = moe.route_stats %l, %p : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2x1xi64>
  return
}

// -----

func.func @route_stats_invalid_tokens_shape(%l: tensor<2x16x4xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.route_stats' op invalid_tokens must have shape [2], got [16]}}
  %0:5 = moe.route_stats %l, %p : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>, tensor<16xi64>
  return
}

// -----

func.func @route_stats_load_type(%l: tensor<2x16x4xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.route_stats' op result #1 must be ranked tensor of 64-bit signless integer values, but got 'tensor<2x4xi32>'}}
  %0:4 = moe.route_stats %l, %p : tensor<2x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<2xf32>, tensor<2x4xi32>, tensor<2xi64>, tensor<2xi64>
  return
}

// -----

func.func @route_stats_logits_groups(%l: tensor<1x16x4xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4>) {
  // expected-error@+1 {{'moe.route_stats' op logits shape [1, 16, 4] does not match the plan's 2 groups of 16 tokens}}
  %0:4 = moe.route_stats %l, %p : tensor<1x16x4xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 4> -> tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>
  return
}

// -----

func.func @route_stats_soft_logits(%l: tensor<2x16x8xf32>, %p: !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 2>) {
  // expected-error@+1 {{'moe.route_stats' op logits have 8 entries per token but the plan has 4 experts (statistics are for sparse routers)}}
  %0:4 = moe.route_stats %l, %p : tensor<2x16x8xf32>, !moe.plan<groups = 2, tokens = 16, experts = 4, capacity = 2> -> tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.experts: named MLP form
//===----------------------------------------------------------------------===//

func.func @experts_up_leading_dim(%s: tensor<4x16x8xf32>, %w1: tensor<3x8x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op up weight must be [E = 4, in, out], got [3, 8, 32]}}
  %0 = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<3x8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_down_leading_dim(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<5x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op down weight must be [E = 4, in, out], got [5, 32, 8]}}
  %0 = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<5x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_weight_rank(%s: tensor<4x16x8xf32>, %w1: tensor<8x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op up weight must be [E = 4, in, out], got [8, 32]}}
  %0 = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_hidden_mismatch(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x16x8xf32>) {
  // expected-error@+1 {{'moe.experts' op hidden size mismatch: up weight has 32 columns but the down weight has 16 rows}}
  %0 = moe.experts %s mlp(relu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x16x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_swiglu_up_not_2h(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op hidden size mismatch: up weight has 32 columns but the down weight has 32 rows (swiglu needs 2 * hidden up columns)}}
  %0 = moe.experts %s mlp(swiglu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

// A 2h-column up weight is only right for swiglu.
func.func @experts_2h_without_swiglu(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x64xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op hidden size mismatch: up weight has 64 columns but the down weight has 32 rows}}
  %0 = moe.experts %s mlp(silu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x64xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_up_rows(%s: tensor<4x16x8xf32>, %w1: tensor<4x6x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op up weight has 6 rows but the slots have d = 8}}
  %0 = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x6x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_down_columns(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op down weight has 8 columns but the result has d_out = 6}}
  %0 = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x6xf32>
  return
}

// -----

func.func @experts_up_bias_shape(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %b1: tensor<4x8xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op up bias must have shape [4, 32], got [4, 8]}}
  %0 = moe.experts %s mlp(silu) up %w1 up_bias %b1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x8xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_swiglu_up_bias_shape(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x64xf32>, %b1: tensor<4x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op up bias must have shape [4, 64], got [4, 32]}}
  %0 = moe.experts %s mlp(swiglu) up %w1 up_bias %b1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x64xf32>, tensor<4x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_down_bias_shape(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x8xf32>, %b2: tensor<8xf32>) {
  // expected-error@+1 {{'moe.experts' op down bias must have shape [4, 8], got [8]}}
  %0 = moe.experts %s mlp(gelu) up %w1 down %w2 down_bias %b2 : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x8xf32>, tensor<8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_result_shape(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op result must be [4, 16, d_out] like the input slots, got [4, 12, 8]}}
  %0 = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x12x8xf32>
  return
}

// -----

func.func @experts_element_type(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xbf16>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op up weight element type 'bf16' differs from 'f32'}}
  %0 = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x32xbf16>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_unknown_activation(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{unknown activation 'tanh', expected gelu, relu, silu or swiglu}}
  %0 = moe.experts %s mlp(tanh) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_unknown_activation_generic(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+2 {{expected ::mlir::moe::Activation to be one of: gelu, relu, silu, swiglu}}
  // expected-error@+1 {{failed to parse MoE_ActivationAttr parameter 'value'}}
  %0 = "moe.experts"(%s, %w1, %w2) <{activation = #moe<activation tanh>, operandSegmentSizes = array<i32: 1, 1, 0, 1, 0>}> ({}) : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_weights_without_activation(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op expert weights need the named form 'mlp(<activation>)'}}
  %0 = "moe.experts"(%s, %w1, %w2) <{operandSegmentSizes = array<i32: 1, 1, 0, 1, 0>}> ({}) : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_missing_down(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>) {
  // expected-error@+1 {{'moe.experts' op the named MLP form needs 'up' and 'down' weights}}
  %0 = "moe.experts"(%s, %w1) <{activation = #moe<activation gelu>, operandSegmentSizes = array<i32: 1, 1, 0, 0, 0>}> ({}) : (tensor<4x16x8xf32>, tensor<4x8x32xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.experts: region form
//===----------------------------------------------------------------------===//

func.func @experts_region_and_mlp(%s: tensor<4x16x8xf32>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x8xf32>) {
  // expected-error@+1 {{'moe.experts' op the named MLP form takes no region}}
  %0 = moe.experts %s mlp(gelu) up %w1 down %w2 : (tensor<4x16x8xf32>, tensor<4x8x32xf32>, tensor<4x32x8xf32>) -> tensor<4x16x8xf32> {
  ^bb0(%e: index, %x: tensor<16x8xf32>):
    moe.yield %x : tensor<16x8xf32>
  }
  return
}

// -----

func.func @experts_neither_form(%s: tensor<4x16x8xf32>) {
  // expected-error@+1 {{'moe.experts' op needs either 'mlp(<activation>)' weights or a region computing one expert}}
  %0 = moe.experts %s : (tensor<4x16x8xf32>) -> tensor<4x16x8xf32>
  return
}

// -----

func.func @experts_region_missing_index(%s: tensor<4x16x8xf32>) {
  // expected-error@+1 {{'moe.experts' op region arguments must be (index, 'tensor<16x8xf32>'): the expert index and its slots}}
  %0 = moe.experts %s : (tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
  ^bb0(%x: tensor<16x8xf32>):
    moe.yield %x : tensor<16x8xf32>
  }
  return
}

// -----

func.func @experts_region_argument_type(%s: tensor<4x16x8xf32>) {
  // expected-error@+1 {{'moe.experts' op region arguments must be (index, 'tensor<16x8xf32>'): the expert index and its slots}}
  %0 = moe.experts %s : (tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
  ^bb0(%e: index, %x: tensor<4x16x8xf32>):
    %c = arith.constant dense<0.0> : tensor<16x8xf32>
    moe.yield %c : tensor<16x8xf32>
  }
  return
}

// -----

func.func @experts_region_yield_type(%s: tensor<4x16x8xf32>) {
  %0 = moe.experts %s : (tensor<4x16x8xf32>) -> tensor<4x16x6xf32> {
  ^bb0(%e: index, %x: tensor<16x8xf32>):
    // expected-error@+1 {{'moe.yield' op yields 'tensor<16x8xf32>' but one expert's result must be 'tensor<16x6xf32>'}}
    moe.yield %x : tensor<16x8xf32>
  }
  return
}

// -----

func.func @experts_region_yield_element_type(%s: tensor<4x16x8xf32>) {
  %0 = moe.experts %s : (tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
  ^bb0(%e: index, %x: tensor<16x8xf32>):
    %h = arith.truncf %x : tensor<16x8xf32> to tensor<16x8xf16>
    // expected-error@+1 {{'moe.yield' op yields 'tensor<16x8xf16>' but one expert's result must be 'tensor<16x8xf32>'}}
    moe.yield %h : tensor<16x8xf16>
  }
  return
}

// -----

func.func @experts_region_terminator(%s: tensor<4x16x8xf32>) {
  // expected-error@+1 {{'moe.experts' op region must end with 'moe.yield'}}
  %0 = moe.experts %s : (tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
  ^bb0(%e: index, %x: tensor<16x8xf32>):
    llvm.unreachable
  }
  return
}

// -----

func.func @experts_region_blocks(%s: tensor<4x16x8xf32>) {
  // expected-error@+1 {{'moe.experts' op region must have one block}}
  %0 = moe.experts %s : (tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
  ^bb0(%e: index, %x: tensor<16x8xf32>):
    cf.br ^bb1
  ^bb1:
    moe.yield %x : tensor<16x8xf32>
  }
  return
}

// -----

func.func @yield_outside_experts(%x: tensor<16x8xf32>) {
  // expected-error@+1 {{'moe.yield' op expects parent op 'moe.experts'}}
  moe.yield %x : tensor<16x8xf32>
}

// -----

func.func @capacity_factor_not_a_number(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{expected a number representable as a double, got '2e400'}}
  %0 = moe.route %l token_choice<k = 1, capacity_factor = 2e400> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  return
}

// -----

func.func @capacity_factor_missing_comma(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{expected a number representable as a double, got '2rounding'}}
  %0 = moe.route %l token_choice<k = 1, capacity_factor = 2 rounding = round> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  return
}

// -----

func.func @soft_both_forms(%l: tensor<1x16x8xf32>) {
  // expected-error@+1 {{soft needs exactly one of slots_per_expert and capacity_factor}}
  %0 = moe.route %l soft<slots_per_expert = 2, capacity_factor = 2.0> : tensor<1x16x8xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  return
}

// -----

func.func @soft_no_form(%l: tensor<1x16x8xf32>) {
  // expected-error@+1 {{expected valid keyword}}
  %0 = moe.route %l soft<> : tensor<1x16x8xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 2>
  return
}

// -----

// round(16 * 0.1 / 4) = round(0.4) = 0.
func.func @soft_capacity_factor_below_one(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op computed capacity is below 1: round(16 * 0.1 / 4) = 0}}
  %0 = moe.route %l soft<capacity_factor = 0.1> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 1>
  return
}

// -----

// round(16 * 1.0 / 4) = 4 slots per expert: 16 logits per token.
func.func @soft_capacity_factor_logits(%l: tensor<1x16x8xf32>) {
  // expected-error@+1 {{'moe.route' op logits have 8 entries per token but the router needs 16 for the plan's 4 experts}}
  %0 = moe.route %l soft<capacity_factor = 1.0> : tensor<1x16x8xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 4>
  return
}
