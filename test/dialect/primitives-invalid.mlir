// RUN: moe-opt %s -split-input-file -verify-diagnostics

func.func @topk_k_too_large(%s: tensor<1x8x4xf32>) {
  // expected-error@+1 {{k = 5 exceeds the 4 entries per row}}
  %v, %i = moe.topk %s {k = 5 : i64} : tensor<1x8x4xf32> -> tensor<1x8x5xf32>, tensor<1x8x5xi32>
  return
}

// -----

func.func @topk_k_zero(%s: tensor<1x8x4xf32>) {
  // expected-error@+1 {{attribute 'k' failed to satisfy constraint}}
  %v, %i = moe.topk %s {k = 0 : i64} : tensor<1x8x4xf32> -> tensor<1x8x0xf32>, tensor<1x8x0xi32>
  return
}

// -----

func.func @topk_values_shape(%s: tensor<1x8x4xf32>) {
  // expected-error@+1 {{values must have shape [1, 8, 2], got [1, 8, 3]}}
  %v, %i = moe.topk %s {k = 2 : i64} : tensor<1x8x4xf32> -> tensor<1x8x3xf32>, tensor<1x8x2xi32>
  return
}

// -----

func.func @topk_indices_shape(%s: tensor<1x8x4xf32>) {
  // expected-error@+1 {{indices must have shape [1, 8, 2], got [1, 7, 2]}}
  %v, %i = moe.topk %s {k = 2 : i64} : tensor<1x8x4xf32> -> tensor<1x8x2xf32>, tensor<1x7x2xi32>
  return
}

// -----

func.func @topk_value_type(%s: tensor<1x8x4xf64>) {
  // expected-error@+1 {{failed to verify that all of {input, values} have same element type}}
  %v, %i = moe.topk %s {k = 2 : i64} : tensor<1x8x4xf64> -> tensor<1x8x2xf32>, tensor<1x8x2xi32>
  return
}

// -----

func.func @topk_f16(%s: tensor<1x8x4xf16>) {
  // expected-error@+1 {{operand #0 must be ranked tensor of 32-bit float or 64-bit float values}}
  %v, %i = moe.topk %s {k = 2 : i64} : tensor<1x8x4xf16> -> tensor<1x8x2xf16>, tensor<1x8x2xi32>
  return
}

// -----

func.func @ksparse_learning_rate(%l: tensor<1x8x4xf32>) {
  // expected-error@+1 {{learning_rate must be > 0, got 0}}
  %p = moe.ksparse_ot %l {capacity = 2 : i64, iterations = 3 : i64, learning_rate = 0.0 : f64} : tensor<1x8x4xf32> -> tensor<1x8x4xf64>
  return
}

// -----

func.func @ksparse_capacity(%l: tensor<1x8x4xf32>) {
  // expected-error@+1 {{attribute 'capacity' failed to satisfy constraint}}
  %p = moe.ksparse_ot %l {capacity = 0 : i64, iterations = 3 : i64, learning_rate = 0.1 : f64} : tensor<1x8x4xf32> -> tensor<1x8x4xf64>
  return
}

// -----

func.func @ksparse_plan_type(%l: tensor<1x8x4xf32>) {
  // expected-error@+1 {{result #0 must be ranked tensor of 64-bit float values}}
  %p = moe.ksparse_ot %l {capacity = 2 : i64, iterations = 3 : i64, learning_rate = 0.1 : f64} : tensor<1x8x4xf32> -> tensor<1x8x4xf32>
  return
}

// -----

func.func @ksparse_shape(%l: tensor<1x8x4xf32>) {
  // expected-error@+1 {{plan must have shape [1, 8, 4], got [1, 4, 8]}}
  %p = moe.ksparse_ot %l {capacity = 2 : i64, iterations = 3 : i64, learning_rate = 0.1 : f64} : tensor<1x8x4xf32> -> tensor<1x4x8xf64>
  return
}

// -----

func.func @sinkhorn_epsilon(%l: tensor<1x8x4xf32>) {
  // expected-error@+1 {{epsilon must be > 0, got 0}}
  %p = moe.sinkhorn %l {iterations = 3 : i64, epsilon = 0.0 : f64} : tensor<1x8x4xf32> -> tensor<1x8xf32>
  return
}

// -----

func.func @sinkhorn_iterations(%l: tensor<1x8x4xf32>) {
  // expected-error@+1 {{attribute 'iterations' failed to satisfy constraint}}
  %p = moe.sinkhorn %l {iterations = 0 : i64, epsilon = 1.0 : f64} : tensor<1x8x4xf32> -> tensor<1x8xf32>
  return
}

// -----

func.func @sinkhorn_shape(%l: tensor<1x8x4xf32>) {
  // expected-error@+1 {{log_u must have shape [1, 8], got [1, 4]}}
  %p = moe.sinkhorn %l {iterations = 3 : i64, epsilon = 1.0 : f64} : tensor<1x8x4xf32> -> tensor<1x4xf32>
  return
}

// -----

func.func @assign_priority_shape(%i: tensor<1x8x2xi32>, %p: tensor<1x7xf32>) {
  // expected-error@+1 {{priority must have shape [1, 8], got [1, 7]}}
  %st, %ts = moe.assign_slots %i priority %p : tensor<1x8x2xi32>, tensor<1x7xf32> -> tensor<1x4x3xi32>, tensor<1x8x2xi32>
  return
}

// -----

func.func @assign_groups(%i: tensor<1x8x2xi32>) {
  // expected-error@+1 {{slot_token has 2 groups, the choices 1}}
  %st, %ts = moe.assign_slots %i : tensor<1x8x2xi32> -> tensor<2x4x3xi32>, tensor<1x8x2xi32>
  return
}

// -----

func.func @assign_token_slot_shape(%i: tensor<1x8x2xi32>) {
  // expected-error@+1 {{token_slot must have shape [1, 8, 2], got [1, 8, 1]}}
  %st, %ts = moe.assign_slots %i : tensor<1x8x2xi32> -> tensor<1x4x3xi32>, tensor<1x8x1xi32>
  return
}

// -----

func.func @invert_shape(%st: tensor<1x4x3xi32>) {
  // expected-error@+1 {{token_slot must have shape [1, 8, 4], got [1, 8, 3]}}
  %ts = moe.invert_slots %st : tensor<1x4x3xi32> -> tensor<1x8x3xi32>
  return
}

// -----

func.func @slot_plan_table(%st: tensor<1x4x2xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>, %v: tensor<1x8xi1>) {
  // expected-error@+1 {{slot_token must have shape [1, 4, 3], got [1, 4, 2]}}
  %p = moe.slot_plan %st, %ts, %w, %v : tensor<1x4x2xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32>, tensor<1x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>
  return
}

// -----

func.func @slot_plan_tokens(%st: tensor<1x4x3xi32>, %ts: tensor<1x9x2xi32>, %w: tensor<1x9x2xf32>, %v: tensor<1x8xi1>) {
  // expected-error@+1 {{token_slot shape [1, 9, 2] does not match the plan's 1 groups of 8 tokens}}
  %p = moe.slot_plan %st, %ts, %w, %v : tensor<1x4x3xi32>, tensor<1x9x2xi32>, tensor<1x9x2xf32>, tensor<1x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>
  return
}

// -----

func.func @slot_plan_weights(%st: tensor<1x4x3xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x1xf32>, %v: tensor<1x8xi1>) {
  // expected-error@+1 {{token_weight must have shape [1, 8, 2], got [1, 8, 1]}}
  %p = moe.slot_plan %st, %ts, %w, %v : tensor<1x4x3xi32>, tensor<1x8x2xi32>, tensor<1x8x1xf32>, tensor<1x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>
  return
}

// -----

func.func @soft_plan_dispatch(%d: tensor<1x8x5xf32>, %c: tensor<1x8x6xf32>, %v: tensor<1x8xi1>) {
  // expected-error@+1 {{dispatch weights must have shape [1, 8, 6], got [1, 8, 5]}}
  %p = moe.soft_plan %d, %c, %v : tensor<1x8x5xf32>, tensor<1x8x6xf32>, tensor<1x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 3, capacity = 2>
  return
}

// -----

func.func @soft_plan_combine(%d: tensor<1x8x6xf32>, %c: tensor<2x8x6xf32>, %v: tensor<1x8xi1>) {
  // expected-error@+1 {{combine weights must have shape [1, 8, 6], got [2, 8, 6]}}
  %p = moe.soft_plan %d, %c, %v : tensor<1x8x6xf32>, tensor<2x8x6xf32>, tensor<1x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 3, capacity = 2>
  return
}

// -----

func.func @sort_slots_too_few_rows(%st: tensor<2x4x8xi32>, %ts: tensor<2x8x2xi32>) {
  // expected-error@+1 {{row_token has 31 rows, fewer than the 32 slots the plan can fill}}
  %rt, %off, %tr = moe.sort_slots %st, %ts : tensor<2x4x8xi32>, tensor<2x8x2xi32> -> tensor<31xi32>, tensor<5xi32>, tensor<2x8x2xi32>
  return
}

// -----

func.func @sort_slots_groups(%st: tensor<1x4x8xi32>, %ts: tensor<2x8x2xi32>) {
  // expected-error@+1 {{slot_token has 1 groups, token_slot 2}}
  %rt, %off, %tr = moe.sort_slots %st, %ts : tensor<1x4x8xi32>, tensor<2x8x2xi32> -> tensor<32xi32>, tensor<5xi32>, tensor<2x8x2xi32>
  return
}

// -----

func.func @sort_slots_offsets(%st: tensor<2x4x8xi32>, %ts: tensor<2x8x2xi32>) {
  // expected-error@+1 {{expert_offsets must have shape [5], got [4]}}
  %rt, %off, %tr = moe.sort_slots %st, %ts : tensor<2x4x8xi32>, tensor<2x8x2xi32> -> tensor<32xi32>, tensor<4xi32>, tensor<2x8x2xi32>
  return
}

// -----

func.func @sort_slots_token_row(%st: tensor<2x4x8xi32>, %ts: tensor<2x8x2xi32>) {
  // expected-error@+1 {{token_row must have shape [2, 8, 2], got [2, 8, 1]}}
  %rt, %off, %tr = moe.sort_slots %st, %ts : tensor<2x4x8xi32>, tensor<2x8x2xi32> -> tensor<32xi32>, tensor<5xi32>, tensor<2x8x1xi32>
  return
}

// -----

func.func @check_placeholder(%bad: i1, %v: i32) {
  // expected-error@+1 {{'moe.check' op message refers to {1} but the check has 1 values}}
  moe.check %bad, "{0} and {1}" (%v : i32)
  return
}

// -----

func.func @check_too_many_values(%bad: i1, %v: i32) {
  // expected-error@+1 {{'moe.check' op takes at most 7 values, got 8}}
  moe.check %bad, "many" (%v, %v, %v, %v, %v, %v, %v, %v : i32, i32, i32, i32, i32, i32, i32, i32)
  return
}

// -----

func.func @check_value_type(%bad: i1, %v: f32) {
  // expected-error@+1 {{'moe.check' op operand #1 must be variadic of signless integer or index}}
  moe.check %bad, "float" (%v : f32)
  return
}

// -----

func.func @slot_plan_valid(%st: tensor<1x4x3xi32>, %ts: tensor<1x8x2xi32>, %w: tensor<1x8x2xf32>, %v: tensor<1x9xi1>) {
  // expected-error@+1 {{token_valid must have shape [1, 8], got [1, 9]}}
  %p = moe.slot_plan %st, %ts, %w, %v : tensor<1x4x3xi32>, tensor<1x8x2xi32>, tensor<1x8x2xf32>, tensor<1x9xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 3>
  return
}

// -----

func.func @gather_width(%x: tensor<16x6xf32>, %i: tensor<32xi32>, %init: tensor<32x5xf32>) {
  // expected-error@+1 {{init must have shape [32, 6], got [32, 5]}}
  %r = moe.gather_rows %x[%i] into %init : tensor<16x6xf32>, tensor<32xi32> into tensor<32x5xf32>
  return
}

// -----

func.func @gather_rows(%x: tensor<16x6xf32>, %i: tensor<32xi32>, %init: tensor<31x6xf32>) {
  // expected-error@+1 {{init must have shape [32, 6], got [31, 6]}}
  %r = moe.gather_rows %x[%i] into %init : tensor<16x6xf32>, tensor<32xi32> into tensor<31x6xf32>
  return
}

// -----

func.func @gather_element_type(%x: tensor<16x6xf32>, %i: tensor<32xi32>, %init: tensor<32x6xf16>) {
  // expected-error@+1 {{init element type 'f16' differs from 'f32'}}
  %r = moe.gather_rows %x[%i] into %init : tensor<16x6xf32>, tensor<32xi32> into tensor<32x6xf16>
  return
}

// -----

func.func @grouped_matmul_inner(%r: tensor<32x6xf32>, %w: tensor<4x7x10xf32>, %off: tensor<5xi32>, %init: tensor<32x10xf32>) {
  // expected-error@+1 {{weight has 7 rows but the input is 6 wide}}
  %h = moe.grouped_matmul %r, %w offsets %off into %init : tensor<32x6xf32>, tensor<4x7x10xf32>, tensor<5xi32> into tensor<32x10xf32>
  return
}

// -----

func.func @grouped_matmul_offsets(%r: tensor<32x6xf32>, %w: tensor<4x6x10xf32>, %off: tensor<4xi32>, %init: tensor<32x10xf32>) {
  // expected-error@+1 {{offsets must have shape [5], got [4]}}
  %h = moe.grouped_matmul %r, %w offsets %off into %init : tensor<32x6xf32>, tensor<4x6x10xf32>, tensor<4xi32> into tensor<32x10xf32>
  return
}

// -----

func.func @grouped_matmul_bias(%r: tensor<32x6xf32>, %w: tensor<4x6x10xf32>, %b: tensor<4x6xf32>, %off: tensor<5xi32>, %init: tensor<32x10xf32>) {
  // expected-error@+1 {{bias must have shape [4, 10], got [4, 6]}}
  %h = moe.grouped_matmul %r, %w offsets %off bias(%b : tensor<4x6xf32>) into %init : tensor<32x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<32x10xf32>
  return
}

// -----

func.func @grouped_matmul_rows(%r: tensor<31x6xf32>, %w: tensor<4x6x10xf32>, %off: tensor<5xi32>, %init: tensor<32x10xf32>) {
  // expected-error@+1 {{input must have shape [32, 6], got [31, 6]}}
  %h = moe.grouped_matmul %r, %w offsets %off into %init : tensor<31x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<32x10xf32>
  return
}

// -----

func.func @grouped_matmul_gather(%x: tensor<16x6xf32>, %i: tensor<30xi32>, %w: tensor<4x6x10xf32>, %off: tensor<5xi32>, %init: tensor<32x10xf32>) {
  // expected-error@+1 {{gather must have shape [32], got [30]}}
  %h = moe.grouped_matmul %x gather(%i : tensor<30xi32>), %w offsets %off into %init : tensor<16x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<32x10xf32>
  return
}

// -----

func.func @grouped_matmul_scale(%r: tensor<32x6xf32>, %w: tensor<4x6x10xf32>, %off: tensor<5xi32>, %s: tensor<16xf32>, %init: tensor<32x10xf32>) {
  // expected-error@+1 {{scale must have shape [32], got [16]}}
  %h = moe.grouped_matmul %r, %w offsets %off scale(%s : tensor<16xf32>) into %init : tensor<32x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<32x10xf32>
  return
}

// -----

func.func @grouped_matmul_swiglu_width(%r: tensor<32x6xf32>, %w: tensor<4x6x10xf32>, %off: tensor<5xi32>, %init: tensor<32x10xf32>) {
  // expected-error@+1 {{init must have shape [32, 5], got [32, 10]}}
  %h = moe.grouped_matmul %r, %w offsets %off into %init {activation = #moe<activation swiglu>} : tensor<32x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<32x10xf32>
  return
}

// -----

func.func @grouped_matmul_swiglu_odd(%r: tensor<32x6xf32>, %w: tensor<4x6x9xf32>, %off: tensor<5xi32>, %init: tensor<32x4xf32>) {
  // expected-error@+1 {{swiglu needs an even weight width, got 9}}
  %h = moe.grouped_matmul %r, %w offsets %off into %init {activation = #moe<activation swiglu>} : tensor<32x6xf32>, tensor<4x6x9xf32>, tensor<5xi32> into tensor<32x4xf32>
  return
}

// -----

func.func @grouped_matmul_type(%r: tensor<32x6xf32>, %w: tensor<4x6x10xf32>, %off: tensor<5xi32>, %init: tensor<32x10xf16>) {
  // expected-error@+1 {{init element type 'f16' differs from 'f32'}}
  %h = moe.grouped_matmul %r, %w offsets %off into %init : tensor<32x6xf32>, tensor<4x6x10xf32>, tensor<5xi32> into tensor<32x10xf16>
  return
}

// -----

func.func @grouped_matmul_weight_type(%r: tensor<32x6xf32>, %w: tensor<4x6x10xbf16>, %off: tensor<5xi32>, %init: tensor<32x10xf32>) {
  // expected-error@+1 {{weight element type 'bf16' differs from 'f32'}}
  %h = moe.grouped_matmul %r, %w offsets %off into %init : tensor<32x6xf32>, tensor<4x6x10xbf16>, tensor<5xi32> into tensor<32x10xf32>
  return
}

// -----

func.func @scatter_shape(%y: tensor<32x6xf32>, %tr: tensor<2x8x2xi32>, %w: tensor<2x8x2xf32>, %init: tensor<2x8x7xf32>) {
  // expected-error@+1 {{init must have shape [2, 8, 6], got [2, 8, 7]}}
  %o = moe.scatter_add_rows %y, %tr, %w into %init : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x2xf32> into tensor<2x8x7xf32>
  return
}

// -----

func.func @scatter_weights(%y: tensor<32x6xf32>, %tr: tensor<2x8x2xi32>, %w: tensor<2x8x3xf32>, %init: tensor<2x8x6xf32>) {
  // expected-error@+1 {{token_weight must have shape [2, 8, 2], got [2, 8, 3]}}
  %o = moe.scatter_add_rows %y, %tr, %w into %init : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x3xf32> into tensor<2x8x6xf32>
  return
}

// -----

func.func @scatter_type(%y: tensor<32x6xf32>, %tr: tensor<2x8x2xi32>, %w: tensor<2x8x2xf32>, %init: tensor<2x8x6xf16>) {
  // expected-error@+1 {{init element type 'f16' differs from 'f32'}}
  %o = moe.scatter_add_rows %y, %tr, %w into %init : tensor<32x6xf32>, tensor<2x8x2xi32>, tensor<2x8x2xf32> into tensor<2x8x6xf16>
  return
}

// -----

func.func @data_path_result(%x: tensor<16x6xf32>, %i: tensor<32xi32>, %init: tensor<32x6xf32>) {
  // expected-error@+1 {{all of {init, result} have same type}}
  %r = "moe.gather_rows"(%x, %i, %init) : (tensor<16x6xf32>, tensor<32xi32>, tensor<32x6xf32>) -> tensor<32x5xf32>
  return
}

// -----

func.func @soft_plan_valid(%d: tensor<1x8x6xf32>, %v: tensor<2x8xi1>) {
  // expected-error@+1 {{token_valid must have shape [1, 8], got [2, 8]}}
  %p = moe.soft_plan %d, %d, %v : tensor<1x8x6xf32>, tensor<1x8x6xf32>, tensor<2x8xi1> -> !moe.plan<groups = 1, tokens = 8, experts = 3, capacity = 2>
  return
}
