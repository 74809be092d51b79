// L3: Soft MoE-B/16, 128 experts with 1 slot each.
// G = 8 images x S = 196 tokens, d = 768, GELU MLP h = 3072; C = slots_per_expert = 1.
func.func @l3(
    %x: tensor<8x196x768xf32> {moe.input = "x"},
    %phi: tensor<768x128x1xf32> {moe.weight = "phi"},
    %scale: tensor<f32> {moe.weight = "scale"},
    %w_up: tensor<128x768x3072xf32> {moe.weight = "w_up"},
    %b_up: tensor<128x3072xf32> {moe.weight = "b_up"},
    %w_down: tensor<128x3072x768xf32> {moe.weight = "w_down"},
    %b_down: tensor<128x768xf32> {moe.weight = "b_down"})
    -> (tensor<8x196x768xf32> {moe.output = "out"}) {
  %logits = moe.gate %x, %phi scale %scale : tensor<8x196x768xf32>, tensor<768x128x1xf32>, tensor<f32> -> tensor<8x196x128xf32>
  %plan = moe.route %logits soft<slots_per_expert = 1>
      : tensor<8x196x128xf32> -> !moe.plan<groups = 8, tokens = 196, experts = 128, capacity = 1>
  %slots = moe.dispatch %x, %plan : tensor<8x196x768xf32>, !moe.plan<groups = 8, tokens = 196, experts = 128, capacity = 1> -> tensor<128x8x768xf32>
  %y = moe.experts %slots mlp(gelu) up %w_up up_bias %b_up down %w_down down_bias %b_down
      : (tensor<128x8x768xf32>, tensor<128x768x3072xf32>, tensor<128x3072xf32>, tensor<128x3072x768xf32>, tensor<128x768xf32>) -> tensor<128x8x768xf32>
  %out = moe.combine %y, %plan : tensor<128x8x768xf32>, !moe.plan<groups = 8, tokens = 196, experts = 128, capacity = 1> -> tensor<8x196x768xf32>
  return %out : tensor<8x196x768xf32>
}
