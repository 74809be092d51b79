// RUN: moe-opt %s --moe-cpu-approximate-math | FileCheck %s

// The exact GELU's erf becomes inline arithmetic: no math.erf is left for
// convert-math-to-libm to turn into a call.
// CHECK-LABEL: func.func @gelu
// CHECK-NOT: math.erf
// CHECK: arith.select
// CHECK-NOT: math.erf
// CHECK: return
func.func @gelu(%x: vector<16xf32>) -> vector<16xf32> {
  %e = math.erf %x : vector<16xf32>
  return %e : vector<16xf32>
}

// Scalars, as in the loops convert-linalg-to-loops leaves.
// CHECK-LABEL: func.func @gelu_scalar
// CHECK-NOT: math.erf
// CHECK: return
func.func @gelu_scalar(%x: f32) -> f32 {
  %e = math.erf %x : f32
  return %e : f32
}

// GELU's tanh form: tanh becomes inline arithmetic too.
// CHECK-LABEL: func.func @gelu_tanh
// CHECK-NOT: math.tanh
// CHECK: arith.divf
// CHECK-NOT: math.tanh
// CHECK: return
func.func @gelu_tanh(%x: vector<16xf32>) -> vector<16xf32> {
  %t = math.tanh %x : vector<16xf32>
  return %t : vector<16xf32>
}
