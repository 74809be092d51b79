// A layer for any number of groups of 2 images of 4 tokens (moe-run-groups.test).
func.func @layer(%x: tensor<?x4x16xf32> {moe.input = "x"},
                 %w_gate: tensor<16x4xf32> {moe.weight = "w_gate"},
                 %w_up: tensor<4x16x32xf32> {moe.weight = "w_up"},
                 %w_down: tensor<4x32x16xf32> {moe.weight = "w_down"})
    -> (tensor<?x4x16xf32> {moe.output = "out"}, tensor<?x4xi64> {moe.output = "expert_load"}) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %n = tensor.dim %x, %c0 : tensor<?x4x16xf32>
  %g = arith.divui %n, %c2 : index
  %x4 = tensor.expand_shape %x [[0, 1], [2], [3]] output_shape [%g, 2, 4, 16] : tensor<?x4x16xf32> into tensor<?x2x4x16xf32>
  %x3 = tensor.collapse_shape %x4 [[0], [1, 2], [3]] : tensor<?x2x4x16xf32> into tensor<?x8x16xf32>
  %logits = moe.gate %x3, %w_gate : tensor<?x8x16xf32>, tensor<16x4xf32> -> tensor<?x8x4xf32>
  %plan = moe.route %logits token_choice<k = 1, capacity_factor = 1.0>
      : tensor<?x8x4xf32> -> !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4>
  %slots = moe.dispatch %x3, %plan : tensor<?x8x16xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4> -> tensor<4x?x16xf32>
  %y = moe.experts %slots mlp(gelu) up %w_up down %w_down
      : (tensor<4x?x16xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<4x?x16xf32>
  %out3 = moe.combine %y, %plan : tensor<4x?x16xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4> -> tensor<?x8x16xf32>
  %out4 = tensor.expand_shape %out3 [[0], [1, 2], [3]] output_shape [%g, 2, 4, 16] : tensor<?x8x16xf32> into tensor<?x2x4x16xf32>
  %out = tensor.collapse_shape %out4 [[0, 1], [2], [3]] : tensor<?x2x4x16xf32> into tensor<?x4x16xf32>
  %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan
      : tensor<?x8x4xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4>
      -> tensor<?xf32>, tensor<?x4xi64>, tensor<?xi64>, tensor<?xi64>
  return %out, %load : tensor<?x4x16xf32>, tensor<?x4xi64>
}
