// A small Soft MoE layer whose expert GEMMs (16 slots, 32 and 64 features per
// expert) are large enough for every register tile of moe-cpu-tile-contractions.
func.func @soft(%x: tensor<4x16x32xf32> {moe.input = "x"},
                %phi: tensor<32x4x4xf32> {moe.weight = "phi"},
                %scale: tensor<f32> {moe.weight = "scale"},
                %w_up: tensor<4x32x64xf32> {moe.weight = "w_up"},
                %w_down: tensor<4x64x32xf32> {moe.weight = "w_down"})
    -> (tensor<4x16x32xf32> {moe.output = "out"}) {
  %l = moe.gate %x, %phi scale %scale : tensor<4x16x32xf32>, tensor<32x4x4xf32>, tensor<f32> -> tensor<4x16x16xf32>
  %p = moe.route %l soft<slots_per_expert = 4> : tensor<4x16x16xf32> -> !moe.plan<groups = 4, tokens = 16, experts = 4, capacity = 4>
  %s = moe.dispatch %x, %p : tensor<4x16x32xf32>, !moe.plan<groups = 4, tokens = 16, experts = 4, capacity = 4> -> tensor<4x16x32xf32>
  %y = moe.experts %s mlp(relu) up %w_up down %w_down : (tensor<4x16x32xf32>, tensor<4x32x64xf32>, tensor<4x64x32xf32>) -> tensor<4x16x32xf32>
  %o = moe.combine %y, %p : tensor<4x16x32xf32>, !moe.plan<groups = 4, tokens = 16, experts = 4, capacity = 4> -> tensor<4x16x32xf32>
  return %o : tensor<4x16x32xf32>
}
