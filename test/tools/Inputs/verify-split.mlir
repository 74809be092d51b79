// moe-opt.test: -split-input-file -verify-diagnostics with an output file.
// expected-error@+1 {{doesn't match function result type}}
func.func @f(%x: tensor<2xf32>) -> tensor<3xf32> { return %x : tensor<2xf32> }

// -----

func.func @g() {
  return
}
