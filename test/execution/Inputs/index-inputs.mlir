// Level-2 entries that take index tensors from the caller
// (test/execution/runtime-checks.test), one file each for split-file.

//--- gather.mlir
func.func @gather(%x: tensor<1x8x4xf32> {moe.input = "x"},
                  %t: tensor<1x2x3xi32> {moe.input = "slot_token"})
    -> (tensor<2x3x4xf32> {moe.output = "slots"}) {
  %s = moe.gather_rows %x, %t : tensor<1x8x4xf32>, tensor<1x2x3xi32> -> tensor<2x3x4xf32>
  return %s : tensor<2x3x4xf32>
}

//--- sorted.mlir
func.func @sorted(%rows: tensor<5x4xf32> {moe.input = "rows"},
                  %w: tensor<2x4x4xf32> {moe.weight = "w"},
                  %offsets: tensor<3xi32> {moe.input = "offsets"},
                  %token_row: tensor<1x5x1xi32> {moe.input = "token_row"},
                  %weights: tensor<1x5x1xf32> {moe.input = "weights"})
    -> (tensor<1x5x4xf32> {moe.output = "out"}) {
  %y = moe.grouped_matmul %rows, %w offsets %offsets : tensor<5x4xf32>, tensor<2x4x4xf32>, tensor<3xi32> -> tensor<5x4xf32>
  %out = moe.combine_tokens %y, %token_row, %weights : tensor<5x4xf32>, tensor<1x5x1xi32>, tensor<1x5x1xf32> -> tensor<1x5x4xf32>
  return %out : tensor<1x5x4xf32>
}

//--- huge.mlir
// A buffer larger than any address space (2^47 bytes): its allocation fails.
func.func @huge(%x: tensor<4xf32> {moe.input = "x"}) -> (tensor<4xf32> {moe.output = "out"}) {
  %c = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<35184372088832xf32>
  %f = linalg.fill ins(%c : f32) outs(%e : tensor<35184372088832xf32>) -> tensor<35184372088832xf32>
  %s = tensor.extract_slice %f[0] [4] [1] : tensor<35184372088832xf32> to tensor<4xf32>
  %o = arith.addf %s, %x : tensor<4xf32>
  return %o : tensor<4xf32>
}
