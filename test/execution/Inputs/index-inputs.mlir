// Level-2 entries that take index tensors from the caller
// (test/execution/runtime-checks.test), one file each for split-file.

//--- gather.mlir
func.func @gather(%x: tensor<8x4xf32> {moe.input = "x"},
                  %t: tensor<6xi32> {moe.input = "row_token"})
    -> (tensor<6x4xf32> {moe.output = "rows"}) {
  %init = tensor.empty() : tensor<6x4xf32>
  %s = moe.gather_rows %x[%t] into %init : tensor<8x4xf32>, tensor<6xi32> into tensor<6x4xf32>
  return %s : tensor<6x4xf32>
}

//--- sorted.mlir
func.func @sorted(%rows: tensor<5x4xf32> {moe.input = "rows"},
                  %w: tensor<2x4x4xf32> {moe.weight = "w"},
                  %offsets: tensor<3xi32> {moe.input = "offsets"},
                  %token_row: tensor<1x5x1xi32> {moe.input = "token_row"},
                  %weights: tensor<1x5x1xf32> {moe.input = "weights"})
    -> (tensor<1x5x4xf32> {moe.output = "out"}) {
  %e = tensor.empty() : tensor<5x4xf32>
  %y = moe.grouped_matmul %rows, %w offsets %offsets into %e : tensor<5x4xf32>, tensor<2x4x4xf32>, tensor<3xi32> into tensor<5x4xf32>
  %zero = arith.constant 0.0 : f32
  %z = tensor.empty() : tensor<1x5x4xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%z : tensor<1x5x4xf32>) -> tensor<1x5x4xf32>
  %out = moe.scatter_add_rows %y, %token_row, %weights into %zeros : tensor<5x4xf32>, tensor<1x5x1xi32>, tensor<1x5x1xf32> into tensor<1x5x4xf32>
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
