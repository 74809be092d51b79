// The L1 layer (V-MoE-B/16 token choice, k = 2, BPR) at capacity factor 0.5, as the V-MoE
// paper draws batch prioritized routing, also returning its slot table, for pictures of where
// each patch went (moe_mlir.pictures). C = ceil(1576 * 2 * 0.5 / 8) = 197, rounded up to a
// multiple of 4: 200.
// G = 1, S = 1576 (8 images x 197 tokens), d = 768, E = 8, GELU MLP h = 3072.
func.func @vmoe_b16_routing(
    %x: tensor<1x1576x768xf32> {moe.input = "x"},
    %w_gate: tensor<768x8xf32> {moe.weight = "w_gate"},
    %w_up: tensor<8x768x3072xf32> {moe.weight = "w_up"},
    %b_up: tensor<8x3072xf32> {moe.weight = "b_up"},
    %w_down: tensor<8x3072x768xf32> {moe.weight = "w_down"},
    %b_down: tensor<8x768xf32> {moe.weight = "b_down"})
    -> (tensor<1x1576x768xf32> {moe.output = "out"},
       tensor<1xf32> {moe.output = "importance_loss"},
       tensor<1x8xi64> {moe.output = "expert_load"},
       tensor<1xi64> {moe.output = "dropped_assignments"},
       tensor<1xi64> {moe.output = "dropped_tokens"},
       tensor<1x8x200xi64> {moe.output = "slot_token"},
       tensor<1x8x200xf32> {moe.output = "slot_weight"}) {
  %logits = moe.gate %x, %w_gate : tensor<1x1576x768xf32>, tensor<768x8xf32> -> tensor<1x1576x8xf32>
  %plan = moe.route %logits token_choice<k = 2, capacity_factor = 0.5, priority = bpr>
      : tensor<1x1576x8xf32> -> !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 200>
  %slots = moe.dispatch %x, %plan : tensor<1x1576x768xf32>, !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 200> -> tensor<8x200x768xf32>
  %y = moe.experts %slots mlp(gelu) up %w_up up_bias %b_up down %w_down down_bias %b_down
      : (tensor<8x200x768xf32>, tensor<8x768x3072xf32>, tensor<8x3072xf32>, tensor<8x3072x768xf32>, tensor<8x768xf32>) -> tensor<8x200x768xf32>
  %out = moe.combine %y, %plan : tensor<8x200x768xf32>, !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 200> -> tensor<1x1576x768xf32>
  %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan
      : tensor<1x1576x8xf32>, !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 200>
      -> tensor<1xf32>, tensor<1x8xi64>, tensor<1xi64>, tensor<1xi64>
  %slot_token, %slot_weight = moe.plan_slots %plan
      : !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 200>
      -> tensor<1x8x200xi64>, tensor<1x8x200xf32>
  return %out, %imp, %load, %dropped, %lost, %slot_token, %slot_weight
      : tensor<1x1576x768xf32>, tensor<1xf32>, tensor<1x8xi64>, tensor<1xi64>, tensor<1xi64>,
        tensor<1x8x200xi64>, tensor<1x8x200xf32>
}
