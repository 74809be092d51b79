// L2: V-MoE-S/32 evaluation, token choice k = 2, capacity_factor = 4.0.
// S = 400, d = 512, E = 8, GELU MLP h = 2048. C = 400 * 2 * 4 / 8 = 400.
func.func @l2(
    %x: tensor<1x400x512xf32> {moe.input = "x"},
    %w_gate: tensor<512x8xf32> {moe.weight = "w_gate"},
    %w_up: tensor<8x512x2048xf32> {moe.weight = "w_up"},
    %b_up: tensor<8x2048xf32> {moe.weight = "b_up"},
    %w_down: tensor<8x2048x512xf32> {moe.weight = "w_down"},
    %b_down: tensor<8x512xf32> {moe.weight = "b_down"})
    -> (tensor<1x400x512xf32> {moe.output = "out"},
       tensor<1xf32> {moe.output = "importance_loss"},
       tensor<1x8xi64> {moe.output = "expert_load"},
       tensor<1xi64> {moe.output = "dropped_assignments"},
       tensor<1xi64> {moe.output = "dropped_tokens"}) {
  %logits = moe.gate %x, %w_gate : tensor<1x400x512xf32>, tensor<512x8xf32> -> tensor<1x400x8xf32>
  %plan = moe.route %logits token_choice<k = 2, capacity_factor = 4.0>
      : tensor<1x400x8xf32> -> !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 400>
  %slots = moe.dispatch %x, %plan : tensor<1x400x512xf32>, !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 400> -> tensor<8x400x512xf32>
  %y = moe.experts %slots mlp(gelu) up %w_up up_bias %b_up down %w_down down_bias %b_down
      : (tensor<8x400x512xf32>, tensor<8x512x2048xf32>, tensor<8x2048xf32>, tensor<8x2048x512xf32>, tensor<8x512xf32>) -> tensor<8x400x512xf32>
  %out = moe.combine %y, %plan : tensor<8x400x512xf32>, !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 400> -> tensor<1x400x512xf32>
  %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan
      : tensor<1x400x8xf32>, !moe.plan<groups = 1, tokens = 400, experts = 8, capacity = 400>
      -> tensor<1xf32>, tensor<1x8xi64>, tensor<1xi64>, tensor<1xi64>
  return %out, %imp, %load, %dropped, %lost : tensor<1x400x512xf32>, tensor<1xf32>, tensor<1x8xi64>, tensor<1xi64>, tensor<1xi64>
}
