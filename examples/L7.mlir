// L7: LLM-style dropless top-2 with renormalised weights, SwiGLU experts.
// 512 tokens, d = 1024, E = 8, h = 3584 (up projection 2h = 7168, no biases).
// Dropless: C = S = 512.
func.func @l7(
    %x: tensor<1x512x1024xf32> {moe.input = "x"},
    %w_gate: tensor<1024x8xf32> {moe.weight = "w_gate"},
    %w_up: tensor<8x1024x7168xf32> {moe.weight = "w_up"},
    %w_down: tensor<8x3584x1024xf32> {moe.weight = "w_down"})
    -> (tensor<1x512x1024xf32> {moe.output = "out"},
       tensor<1xf32> {moe.output = "importance_loss"},
       tensor<1x8xi64> {moe.output = "expert_load"},
       tensor<1xi64> {moe.output = "dropped_assignments"},
       tensor<1xi64> {moe.output = "dropped_tokens"}) {
  %logits = moe.gate %x, %w_gate : tensor<1x512x1024xf32>, tensor<1024x8xf32> -> tensor<1x512x8xf32>
  %plan = moe.route %logits token_choice<k = 2, dropless, renormalize>
      : tensor<1x512x8xf32> -> !moe.plan<groups = 1, tokens = 512, experts = 8, capacity = 512>
  %slots = moe.dispatch %x, %plan : tensor<1x512x1024xf32>, !moe.plan<groups = 1, tokens = 512, experts = 8, capacity = 512> -> tensor<8x512x1024xf32>
  %y = moe.experts %slots mlp(swiglu) up %w_up down %w_down
      : (tensor<8x512x1024xf32>, tensor<8x1024x7168xf32>, tensor<8x3584x1024xf32>) -> tensor<8x512x1024xf32>
  %out = moe.combine %y, %plan : tensor<8x512x1024xf32>, !moe.plan<groups = 1, tokens = 512, experts = 8, capacity = 512> -> tensor<1x512x1024xf32>
  %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan
      : tensor<1x512x8xf32>, !moe.plan<groups = 1, tokens = 512, experts = 8, capacity = 512>
      -> tensor<1xf32>, tensor<1x8xi64>, tensor<1xi64>, tensor<1xi64>
  return %out, %imp, %load, %dropped, %lost : tensor<1x512x1024xf32>, tensor<1xf32>, tensor<1x8xi64>, tensor<1xi64>, tensor<1xi64>
}
