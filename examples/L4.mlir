// L4: Expert choice B/16, capacity_factor = 1.0.
// S = 1568 (8 x 196), d = 768, E = 32, GELU MLP h = 3072.
// C = ceil(1568 * 1.0 / 32) = 49, rounded up to a multiple of 4: 52.
func.func @l4(
    %x: tensor<1x1568x768xf32> {moe.input = "x"},
    %w_gate: tensor<768x32xf32> {moe.weight = "w_gate"},
    %w_up: tensor<32x768x3072xf32> {moe.weight = "w_up"},
    %b_up: tensor<32x3072xf32> {moe.weight = "b_up"},
    %w_down: tensor<32x3072x768xf32> {moe.weight = "w_down"},
    %b_down: tensor<32x768xf32> {moe.weight = "b_down"})
    -> (tensor<1x1568x768xf32> {moe.output = "out"},
       tensor<1xf32> {moe.output = "importance_loss"},
       tensor<1x32xi64> {moe.output = "expert_load"},
       tensor<1xi64> {moe.output = "dropped_assignments"},
       tensor<1xi64> {moe.output = "dropped_tokens"}) {
  %logits = moe.gate %x, %w_gate : tensor<1x1568x768xf32>, tensor<768x32xf32> -> tensor<1x1568x32xf32>
  %plan = moe.route %logits expert_choice<capacity_factor = 1.0>
      : tensor<1x1568x32xf32> -> !moe.plan<groups = 1, tokens = 1568, experts = 32, capacity = 52>
  %slots = moe.dispatch %x, %plan : tensor<1x1568x768xf32>, !moe.plan<groups = 1, tokens = 1568, experts = 32, capacity = 52> -> tensor<32x52x768xf32>
  %y = moe.experts %slots mlp(gelu) up %w_up up_bias %b_up down %w_down down_bias %b_down
      : (tensor<32x52x768xf32>, tensor<32x768x3072xf32>, tensor<32x3072xf32>, tensor<32x3072x768xf32>, tensor<32x768xf32>) -> tensor<32x52x768xf32>
  %out = moe.combine %y, %plan : tensor<32x52x768xf32>, !moe.plan<groups = 1, tokens = 1568, experts = 32, capacity = 52> -> tensor<1x1568x768xf32>
  %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan
      : tensor<1x1568x32xf32>, !moe.plan<groups = 1, tokens = 1568, experts = 32, capacity = 52>
      -> tensor<1xf32>, tensor<1x32xi64>, tensor<1xi64>, tensor<1xi64>
  return %out, %imp, %load, %dropped, %lost : tensor<1x1568x768xf32>, tensor<1xf32>, tensor<1x32xi64>, tensor<1xi64>, tensor<1xi64>
}
