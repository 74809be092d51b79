// moe.topk on its own (test/execution/topk.test): f32 and f64 rows with
// ties, signed zeros, NaN and infinities.
func.func @topk(%x: tensor<3x5x40xf32> {moe.input = "x"},
                %y: tensor<3x5x40xf64> {moe.input = "y"})
    -> (tensor<3x5x17xf32> {moe.output = "values"},
        tensor<3x5x17xi32> {moe.output = "indices"},
        tensor<3x5x17xf64> {moe.output = "values64"},
        tensor<3x5x17xi32> {moe.output = "indices64"}) {
  %v, %i = moe.topk %x {k = 17 : i64} : tensor<3x5x40xf32> -> tensor<3x5x17xf32>, tensor<3x5x17xi32>
  %w, %j = moe.topk %y {k = 17 : i64} : tensor<3x5x40xf64> -> tensor<3x5x17xf64>, tensor<3x5x17xi32>
  return %v, %i, %w, %j : tensor<3x5x17xf32>, tensor<3x5x17xi32>, tensor<3x5x17xf64>, tensor<3x5x17xi32>
}
