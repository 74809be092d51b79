// RUN: moe-opt %s -split-input-file -verify-diagnostics
//
// Sizes past what compiled code can index are verifier errors that name the
// limit, never an overflow in the compiler or in the generated code
// (dialect/SizeLimits.h): tensor byte sizes fit in i64, token/slot/row
// indices in i32, capacities in i32.

func.func @capacity_factor_too_large(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{'moe.route' op computed capacity ceil(32 * 9.3e+18 / 4) = 7.44e+19 exceeds 2147483647, the most slots an expert can have (slot indices are i32)}}
  %0 = moe.route %l token_choice<k = 2, capacity_factor = 9.3e18> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  return
}

// -----

// `1e30` (an integer with an exponent) is a number, and far too large.
func.func @capacity_factor_exponent(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{computed capacity ceil(16 * 1e+30 / 4) = 4e+30 exceeds 2147483647}}
  %0 = moe.route %l expert_choice<capacity_factor = 1e30> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  return
}

// -----

func.func @multiple_of_too_large(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{computed capacity ceil(32 * 1 / 4) = 8, rounded up to a multiple of 9223372036854775807, exceeds 2147483647}}
  %0 = moe.route %l token_choice<k = 2, capacity_factor = 1.0, multiple_of = 9223372036854775807> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  return
}

// -----

func.func @fixed_capacity_too_large(%l: tensor<1x16x4xf32>) {
  // expected-error@+1 {{capacity 4611686018427387904 exceeds 2147483647, the most slots an expert can have (slot indices are i32)}}
  %0 = moe.route %l token_choice<k = 2, capacity = 4611686018427387904> : tensor<1x16x4xf32> -> !moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 8>
  return
}

// -----

func.func @per_image_token_slots_too_large(%l: tensor<1x40x4xf32>) {
  // expected-error@+1 {{2147483647 item slots of 20 tokens exceed 2147483647 token slots per expert}}
  %0 = moe.route %l per_image<tokens_per_item = 20, k = 1, pooling = cls, capacity = 2147483647> : tensor<1x40x4xf32> -> !moe.plan<groups = 1, tokens = 40, experts = 4, capacity = 8>
  return
}

// -----

// groups * experts * capacity = 2^32 slots.
// expected-error@+1 {{a plan of 1 groups, 4 experts and capacity 1073741824 has more slots (groups * experts * capacity) than i32 slot indices can number (at most 2147483648)}}
func.func private @plan_slots_too_many(!moe.plan<groups = 1, tokens = 16, experts = 4, capacity = 1073741824>)

// -----

// expected-error@+1 {{a plan of 65536 groups of 65536 tokens has more tokens than i32 token indices can number (at most 2147483648)}}
func.func private @plan_tokens_too_many(!moe.plan<groups = 65536, tokens = 65536, experts = 1, capacity = 1>)

// -----

// The largest plan there can be: 2^31 slots.
func.func private @plan_largest(!moe.plan<groups = 2, tokens = 16, experts = 1, capacity = 1073741824>)

// -----

func.func @tensor_too_large(%x: tensor<1x4611686018427387904x8xf32>, %w: tensor<8x4xf32>) {
  // expected-error@+1 {{'moe.gate' op operand #0 of type 'tensor<1x4611686018427387904x8xf32>' does not fit in memory: its size in bytes exceeds 9223372036854775807 (2^63 - 1)}}
  %0 = moe.gate %x, %w : tensor<1x4611686018427387904x8xf32>, tensor<8x4xf32> -> tensor<1x4611686018427387904x4xf32>
  return
}

// -----

// An empty tensor still has strides: the other dimensions must fit.
func.func @empty_tensor_too_large(%x: tensor<0x4611686018427387904x8xf32>, %w: tensor<8x4xf32>) {
  // expected-error@+1 {{'moe.gate' op operand #0 of type 'tensor<0x4611686018427387904x8xf32>' does not fit in memory}}
  %0 = moe.gate %x, %w : tensor<0x4611686018427387904x8xf32>, tensor<8x4xf32> -> tensor<0x4611686018427387904x4xf32>
  return
}

// -----

func.func @gather_rows_token_index(%x: tensor<2147483649x1xf16>, %t: tensor<1xi32>, %init: tensor<1x1xf16>) {
  // expected-error@+1 {{'moe.gather_rows' op index numbers 2147483649 rows of the input with i32 indices, which can number at most 2147483648}}
  %0 = moe.gather_rows %x[%t] into %init : tensor<2147483649x1xf16>, tensor<1xi32> into tensor<1x1xf16>
  return
}

// -----

func.func @assign_slots_slot_index(%choices: tensor<1x4x1xi32>) {
  // expected-error@+1 {{'moe.assign_slots' op token_slot numbers 4294967296 slots of a group with i32 indices, which can number at most 2147483648}}
  %0:2 = moe.assign_slots %choices : tensor<1x4x1xi32> -> tensor<1x2x2147483648xi32>, tensor<1x4x1xi32>
  return
}

// -----

func.func @topk_index(%x: tensor<1x1x2147483649xf32>) {
  // expected-error@+1 {{'moe.topk' op indices numbers 2147483649 entries per row with i32 indices, which can number at most 2147483648}}
  %0:2 = moe.topk %x {k = 1 : i64} : tensor<1x1x2147483649xf32> -> tensor<1x1x1xf32>, tensor<1x1x1xi32>
  return
}

// -----

func.func @scatter_add_rows_row_index(%rows: tensor<2147483649x1xf16>, %r: tensor<1x1x1xi32>, %w: tensor<1x1x1xf32>, %init: tensor<1x1x1xf16>) {
  // expected-error@+1 {{'moe.scatter_add_rows' op token_row numbers 2147483649 rows with i32 indices, which can number at most 2147483648}}
  %0 = moe.scatter_add_rows %rows, %r, %w into %init : tensor<2147483649x1xf16>, tensor<1x1x1xi32>, tensor<1x1x1xf32> into tensor<1x1x1xf16>
  return
}
