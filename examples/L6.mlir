// L6: Mobile V-MoE-Tiny per-image routing, k = 1, E = 10.
// 64 images x 50 tokens in one group (S = 3200), d = 192, GELU MLP h = 768.
// Dropless in items: every expert has room for all 64 images, C = 3200 token slots.
func.func @l6(
    %x: tensor<1x3200x192xf32> {moe.input = "x"},
    %w_gate: tensor<192x10xf32> {moe.weight = "w_gate"},
    %w_up: tensor<10x192x768xf32> {moe.weight = "w_up"},
    %b_up: tensor<10x768xf32> {moe.weight = "b_up"},
    %w_down: tensor<10x768x192xf32> {moe.weight = "w_down"},
    %b_down: tensor<10x192xf32> {moe.weight = "b_down"})
    -> (tensor<1x3200x192xf32> {moe.output = "out"},
       tensor<1xf32> {moe.output = "importance_loss"},
       tensor<1x10xi64> {moe.output = "expert_load"},
       tensor<1xi64> {moe.output = "dropped_assignments"},
       tensor<1xi64> {moe.output = "dropped_tokens"}) {
  %logits = moe.gate %x, %w_gate : tensor<1x3200x192xf32>, tensor<192x10xf32> -> tensor<1x3200x10xf32>
  %plan = moe.route %logits per_image<tokens_per_item = 50, k = 1, pooling = mean>
      : tensor<1x3200x10xf32> -> !moe.plan<groups = 1, tokens = 3200, experts = 10, capacity = 3200>
  %slots = moe.dispatch %x, %plan : tensor<1x3200x192xf32>, !moe.plan<groups = 1, tokens = 3200, experts = 10, capacity = 3200> -> tensor<10x3200x192xf32>
  %y = moe.experts %slots mlp(gelu) up %w_up up_bias %b_up down %w_down down_bias %b_down
      : (tensor<10x3200x192xf32>, tensor<10x192x768xf32>, tensor<10x768xf32>, tensor<10x768x192xf32>, tensor<10x192xf32>) -> tensor<10x3200x192xf32>
  %out = moe.combine %y, %plan : tensor<10x3200x192xf32>, !moe.plan<groups = 1, tokens = 3200, experts = 10, capacity = 3200> -> tensor<1x3200x192xf32>
  %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan
      : tensor<1x3200x10xf32>, !moe.plan<groups = 1, tokens = 3200, experts = 10, capacity = 3200>
      -> tensor<1xf32>, tensor<1x10xi64>, tensor<1xi64>, tensor<1xi64>
  return %out, %imp, %load, %dropped, %lost : tensor<1x3200x192xf32>, tensor<1xf32>, tensor<1x10xi64>, tensor<1xi64>, tensor<1xi64>
}
