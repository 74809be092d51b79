// A small dropless token-choice layer for the moe-compile tests.
func.func @small(%x: tensor<1x6x4xf32> {moe.input = "x"},
                 %w_gate: tensor<4x4xf32> {moe.weight = "w_gate"},
                 %w_up: tensor<4x4x8xf32> {moe.weight = "w_up"},
                 %w_down: tensor<4x8x4xf32> {moe.weight = "w_down"})
    -> (tensor<1x6x4xf32> {moe.output = "out"}) {
  %l = moe.gate %x, %w_gate : tensor<1x6x4xf32>, tensor<4x4xf32> -> tensor<1x6x4xf32>
  %p = moe.route %l token_choice<k = 2, dropless> : tensor<1x6x4xf32> -> !moe.plan<groups = 1, tokens = 6, experts = 4, capacity = 6>
  %s = moe.dispatch %x, %p : tensor<1x6x4xf32>, !moe.plan<groups = 1, tokens = 6, experts = 4, capacity = 6> -> tensor<4x6x4xf32>
  %y = moe.experts %s mlp(relu) up %w_up down %w_down : (tensor<4x6x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>) -> tensor<4x6x4xf32>
  %o = moe.combine %y, %p : tensor<4x6x4xf32>, !moe.plan<groups = 1, tokens = 6, experts = 4, capacity = 6> -> tensor<1x6x4xf32>
  return %o : tensor<1x6x4xf32>
}
