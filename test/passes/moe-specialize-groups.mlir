// RUN: moe-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(moe-specialize-groups))' | FileCheck %s
// RUN: moe-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(moe-specialize-groups{groups-per-call=2}))' | FileCheck %s --check-prefix=TWO

// Any number of images in groups of 2 images of 4 tokens: compiled for one
// routing group (2 images), the varying arguments and every result marked.
// CHECK-LABEL: func.func @layer
// CHECK-SAME: %[[X:.*]]: tensor<2x4x16xf32> {moe.input = "x", moe.per_group}
// CHECK-SAME: %{{.*}}: tensor<16x4xf32> {moe.weight = "w_gate"}
// CHECK-SAME: -> (tensor<2x4x16xf32> {moe.output = "out", moe.per_group}, tensor<1x4xi64> {moe.output = "expert_load", moe.per_group})
// CHECK-SAME: attributes {moe.groups_per_call = 1 : i64}
// CHECK-NOT: tensor.dim
// CHECK-NOT: arith.divui
// CHECK: tensor.expand_shape %[[X]] {{\[\[}}0, 1], [2], [3]] output_shape [1, 2, 4, 16] : tensor<2x4x16xf32> into tensor<1x2x4x16xf32>
// CHECK: moe.gate %{{.*}} : tensor<1x8x16xf32>, tensor<16x4xf32> -> tensor<1x8x4xf32>
// CHECK: moe.route {{.*}} -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
// CHECK: moe.dispatch {{.*}} -> tensor<4x4x16xf32>
// CHECK: moe.experts {{.*}} -> tensor<4x4x16xf32>
// CHECK: moe.combine {{.*}} -> tensor<1x8x16xf32>
// CHECK: tensor.empty() : tensor<1x8x16xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x8x16xf32>)
// CHECK: moe.route_stats {{.*}} -> tensor<1xf32>, tensor<1x4xi64>, tensor<1xi64>, tensor<1xi64>
// CHECK: return %{{.*}}, %{{.*}} : tensor<2x4x16xf32>, tensor<1x4xi64>
// With groups-per-call=2: two routing groups (4 images) per call.
// TWO-LABEL: func.func @layer
// TWO-SAME: tensor<4x4x16xf32> {moe.input = "x", moe.per_group}
// TWO-SAME: -> (tensor<4x4x16xf32> {moe.output = "out", moe.per_group}, tensor<2x4xi64> {moe.output = "expert_load", moe.per_group})
// TWO-SAME: attributes {moe.groups_per_call = 2 : i64}
// TWO: moe.route {{.*}} -> !moe.plan<groups = 2, tokens = 8, experts = 4, capacity = 4>
// TWO: moe.dispatch {{.*}} -> tensor<4x8x16xf32>
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
  %combined = moe.combine %y, %plan : tensor<4x?x16xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4> -> tensor<?x8x16xf32>
  // The residual: rows of the groups indexed by d0 in every operand.
  %e = tensor.empty(%g) : tensor<?x8x16xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
                         iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%combined, %x3 : tensor<?x8x16xf32>, tensor<?x8x16xf32>) outs(%e : tensor<?x8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x8x16xf32>
  %out4 = tensor.expand_shape %sum [[0], [1, 2], [3]] output_shape [%g, 2, 4, 16] : tensor<?x8x16xf32> into tensor<?x2x4x16xf32>
  %out = tensor.collapse_shape %out4 [[0, 1], [2], [3]] : tensor<?x2x4x16xf32> into tensor<?x4x16xf32>
  %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan
      : tensor<?x8x4xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4>
      -> tensor<?xf32>, tensor<?x4xi64>, tensor<?xi64>, tensor<?xi64>
  return %out, %load : tensor<?x4x16xf32>, tensor<?x4xi64>
}

// -----

// Without a route, one call per row of the inputs; slices that take every
// row and matmuls over the rows are followed.
// CHECK-LABEL: func.func @dense
// CHECK-SAME: tensor<1x3x8xf32> {moe.input = "x", moe.per_group}
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0] [1, 1, 8] [1, 1, 1] : tensor<1x3x8xf32> to tensor<1x8xf32>
// CHECK: linalg.matmul {{.*}} outs(%{{.*}} : tensor<1x4xf32>)
func.func @dense(%x: tensor<?x3x8xf32> {moe.input = "x"}, %w: tensor<8x4xf32> {moe.weight = "w"})
    -> tensor<?x4xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x3x8xf32>
  %first = tensor.extract_slice %x[0, 0, 0] [%n, 1, 8] [1, 1, 1] : tensor<?x3x8xf32> to tensor<?x8xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
  %y = linalg.matmul ins(%first, %w : tensor<?x8xf32>, tensor<8x4xf32>) outs(%z : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// Functions without dynamic arguments are left alone.
// CHECK-LABEL: func.func @static
// CHECK-SAME: (%{{.*}}: tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NOT: moe.per_group
func.func @static(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  return %x : tensor<2x4xf32>
}

// -----

func.func @sum_over_images(%x: tensor<?x4xf32> {moe.input = "x"}) -> tensor<4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  // expected-error @+1 {{reduces over the rows of the groups (loop d0), which mixes the groups}}
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>],
                       iterator_types = ["reduction", "parallel"]}
      ins(%x : tensor<?x4xf32>) outs(%z : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.addf %a, %o : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  return %s : tensor<4xf32>
}

// -----

func.func @softmax_over_images(%x: tensor<?x4xf32> {moe.input = "x"}) -> tensor<?x4xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  // expected-error @+1 {{normalizes over the rows of the groups (dimension 0), which mixes the groups}}
  %s = linalg.softmax dimension(0) ins(%x : tensor<?x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %s : tensor<?x4xf32>
}

// -----

func.func @rows_inside(%x: tensor<?x4xf32> {moe.input = "x"}) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %e = tensor.empty(%n) : tensor<4x?xf32>
  %t = linalg.transpose ins(%x : tensor<?x4xf32>) outs(%e : tensor<4x?xf32>) permutation = [1, 0]
  // expected-error @+1 {{folds the rows of the groups (dimension 1) inside other dimensions, which mixes the groups}}
  %c = tensor.collapse_shape %t [[0, 1]] : tensor<4x?xf32> into tensor<?xf32>
  return %c : tensor<?xf32>
}

// -----

func.func @some_rows(%x: tensor<?x4xf32> {moe.input = "x"}) -> tensor<1x4xf32> {
  // expected-error @+1 {{must take every row of the groups (dimension 0): offset 0, stride 1 and the whole size there}}
  %s = tensor.extract_slice %x[0, 0] [1, 4] [1, 1] : tensor<?x4xf32> to tensor<1x4xf32>
  return %s : tensor<1x4xf32>
}

// -----

func.func @static_result(%x: tensor<?x4xf32> {moe.input = "x"}, %w: tensor<4xf32> {moe.weight = "w"}) -> (tensor<?x4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{returns result #1 of type 'tensor<4xf32>', which does not vary with the groups; with a dynamic number of groups every result must hold the rows of each group in its first dimension}}
  return %x, %w : tensor<?x4xf32>, tensor<4xf32>
}

// -----

// expected-error @+1 {{argument #0 of type 'tensor<4x?xf32>': only the first dimension of an argument may be dynamic}}
func.func @inner_dynamic(%x: tensor<4x?xf32> {moe.input = "x"}) -> tensor<4x?xf32> {
  return %x : tensor<4x?xf32>
}

// -----

// expected-error @+1 {{weight argument #1 must have a static shape, got 'tensor<?x4xf32>'}}
func.func @dynamic_weight(%x: tensor<?x4xf32> {moe.input = "x"}, %w: tensor<?x4xf32> {moe.weight = "w"}) -> tensor<?x4xf32> {
  return %x : tensor<?x4xf32>
}

// -----

func.func @two_group_sizes(%x: tensor<?x4x16xf32> {moe.input = "x"}, %w: tensor<16x4xf32> {moe.weight = "w"})
    -> (tensor<?x4xi64>, tensor<?x4xi64>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %n = tensor.dim %x, %c0 : tensor<?x4x16xf32>
  %g = arith.divui %n, %c2 : index
  %l1 = moe.gate %x, %w : tensor<?x4x16xf32>, tensor<16x4xf32> -> tensor<?x4x4xf32>
  // expected-note @+1 {{the earlier route}}
  %p1 = moe.route %l1 token_choice<k = 1, capacity_factor = 1.0> : tensor<?x4x4xf32> -> !moe.plan<groups = ?, tokens = 4, experts = 4, capacity = 4>
  %x4 = tensor.expand_shape %x [[0, 1], [2], [3]] output_shape [%g, 2, 4, 16] : tensor<?x4x16xf32> into tensor<?x2x4x16xf32>
  %x8 = tensor.collapse_shape %x4 [[0], [1, 2], [3]] : tensor<?x2x4x16xf32> into tensor<?x8x16xf32>
  %l2 = moe.gate %x8, %w : tensor<?x8x16xf32>, tensor<16x4xf32> -> tensor<?x8x4xf32>
  // expected-error @+1 {{routes 1/2 * N groups, but an earlier route 1 * N; every route of an entry with a dynamic number of groups must route groups of the same tokens}}
  %p2 = moe.route %l2 token_choice<k = 1, capacity_factor = 1.0> : tensor<?x8x4xf32> -> !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4>
  %i1, %s1, %d1, %t1 = moe.route_stats %l1, %p1 : tensor<?x4x4xf32>, !moe.plan<groups = ?, tokens = 4, experts = 4, capacity = 4> -> tensor<?xf32>, tensor<?x4xi64>, tensor<?xi64>, tensor<?xi64>
  %i2, %s2, %d2, %t2 = moe.route_stats %l2, %p2 : tensor<?x8x4xf32>, !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4> -> tensor<?xf32>, tensor<?x4xi64>, tensor<?xi64>, tensor<?xi64>
  return %s1, %s2 : tensor<?x4xi64>, tensor<?x4xi64>
}

// -----

func.func @rows_split(%x: tensor<?x8x16xf32> {moe.input = "x"})
    -> tensor<?x8x16xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x8x16xf32>
  // expected-error @+1 {{splits the rows of the groups with the dynamic part inside (dimension 1); it must be the outermost dimension}}
  %bad = tensor.expand_shape %x [[0, 1], [2], [3]] output_shape [2, %n, 8, 16] : tensor<?x8x16xf32> into tensor<2x?x8x16xf32>
  return %x : tensor<?x8x16xf32>
}

// -----

func.func @unknown_op(%x: tensor<?x4xf32> {moe.input = "x"}) -> tensor<?x4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{takes or makes a tensor or size that varies with the number of groups, and is not known to compute the groups independently}}
  %v = tensor.extract %x[%c0, %c1] : tensor<?x4xf32>
  return %x : tensor<?x4xf32>
}

// -----

func.func @half_a_group(%x: tensor<?x4x16xf32> {moe.input = "x"}, %w: tensor<16x4xf32> {moe.weight = "w"})
    -> tensor<?x4xi64> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %n = tensor.dim %x, %c0 : tensor<?x4x16xf32>
  %half = arith.divui %n, %c2 : index
  %l = moe.gate %x, %w : tensor<?x4x16xf32>, tensor<16x4xf32> -> tensor<?x4x4xf32>
  %p = moe.route %l token_choice<k = 1, capacity_factor = 1.0> : tensor<?x4x4xf32> -> !moe.plan<groups = ?, tokens = 4, experts = 4, capacity = 4>
  // Pairs of routing groups: half a pair per call.
  // expected-error @+1 {{a value of type 'tensor<?x2x4x16xf32>' holds 1/2 rows of dimension 0 per routing group; it must be a whole number}}
  %pairs = tensor.expand_shape %x [[0, 1], [2], [3]] output_shape [%half, 2, 4, 16] : tensor<?x4x16xf32> into tensor<?x2x4x16xf32>
  %i, %s, %d, %t = moe.route_stats %l, %p : tensor<?x4x4xf32>, !moe.plan<groups = ?, tokens = 4, experts = 4, capacity = 4> -> tensor<?xf32>, tensor<?x4xi64>, tensor<?xi64>, tensor<?xi64>
  return %s : tensor<?x4xi64>
}
