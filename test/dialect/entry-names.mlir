// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// Entry functions name their arguments and results for the runtime.

// CHECK-LABEL: func.func @named
// CHECK-SAME: {moe.input = "x"}
// CHECK-SAME: {moe.weight = "w_gate"}
// CHECK-SAME: {moe.output = "out"}
func.func @named(%x: tensor<2x3xf32> {moe.input = "x"},
                 %w: tensor<3x4xf32> {moe.weight = "w_gate"})
    -> (tensor<2x3xf32> {moe.output = "out"}) {
  return %x : tensor<2x3xf32>
}

// -----

// expected-error@+1 {{'moe.input' on argument #0 must be a non-empty string naming the tensor, got 3 : i64}}
func.func @not_a_string(%x: tensor<2xf32> {moe.input = 3}) {
  return
}

// -----

// expected-error@+1 {{'moe.weight' on argument #1 must be a non-empty string naming the tensor, got ""}}
func.func @empty_name(%x: tensor<2xf32>, %w: tensor<2xf32> {moe.weight = ""}) {
  return
}

// -----

// expected-error@+1 {{unknown moe argument attribute 'moe.inptu'; expected 'moe.input' or 'moe.weight'}}
func.func @typo(%x: tensor<2xf32> {moe.inptu = "x"}) {
  return
}

// -----

// expected-error@+1 {{'moe.output' names a result; on argument #0 use 'moe.input' or 'moe.weight'}}
func.func @output_on_argument(%x: tensor<2xf32> {moe.output = "x"}) {
  return
}

// -----

// expected-error@+1 {{unknown moe result attribute 'moe.input'; expected 'moe.output'}}
func.func @input_on_result(%x: tensor<2xf32>) -> (tensor<2xf32> {moe.input = "y"}) {
  return %x : tensor<2xf32>
}

// -----

// expected-error@+1 {{'moe.output' on result #0 must be a non-empty string naming the tensor, got unit}}
func.func @unit_output(%x: tensor<2xf32>) -> (tensor<2xf32> {moe.output}) {
  return %x : tensor<2xf32>
}
