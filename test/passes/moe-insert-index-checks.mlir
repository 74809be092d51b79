// RUN: moe-opt %s --moe-prepare-entry --moe-insert-index-checks -split-input-file | FileCheck %s
// RUN: moe-opt %s --moe-prepare-entry --moe-insert-index-checks=scope=all -split-input-file | FileCheck %s --check-prefix=ALL
// RUN: not moe-opt %s --moe-insert-index-checks=scope=some 2>&1 | FileCheck %s --check-prefix=SCOPE

// SCOPE: moe-insert-index-checks: unknown scope 'some'; expected arguments or all

// An index tensor the caller passes in is scanned, where the entry starts
// (before anything is allocated), for its first element outside [-1, S):
// loops carrying the least bad flat position, no tensor allocated. A check
// names the input, the position, the value and the range.

// CHECK-LABEL: func.func @gather_from_input
// CHECK-SAME: (%[[X:.+]]: tensor<8x4xf32>, %[[T:.+]]: tensor<6xi32>)
// CHECK-NOT: tensor.empty
// CHECK: %[[FIRST:.+]] = scf.for %[[I0:.+]] = {{.+}} iter_args(%[[LEAST:.+]] = %{{.+}}) -> (i64)
// CHECK:   %[[E:.+]] = tensor.extract %[[T]][%[[I0]]] : tensor<6xi32>
// CHECK-DAG: arith.cmpi sge, %[[E]], %c8_i32 : i32
// CHECK-DAG: arith.cmpi slt, %[[E]], %c-1_i32 : i32
// CHECK:   arith.minsi %[[LEAST]], %{{.+}} : i64
// CHECK: %[[BAD:.+]] = arith.cmpi ne, %[[FIRST]], %{{.+}} : i64
// CHECK: %[[V:.*]] = tensor.extract %[[T]][%[[I:.+]]] : tensor<6xi32>
// CHECK: moe.check %[[BAD]], "input 'row_token' holds {0} at [{1}]: moe.gather_rows at {{.*}}moe-insert-index-checks.mlir:[[@LINE+4]]:8 needs a row of the input in [-1, 8)"(%[[V]], %[[I]] : i32, index)
// CHECK: moe.gather_rows %[[X]][%[[T]]]
func.func @gather_from_input(%x: tensor<8x4xf32> {moe.input = "x"}, %t: tensor<6xi32> {moe.input = "row_token"}) -> (tensor<6x4xf32> {moe.output = "rows"}) {
  %init = tensor.empty() : tensor<6x4xf32>
  %s = moe.gather_rows %x[%t] into %init : tensor<8x4xf32>, tensor<6xi32> into tensor<6x4xf32>
  return %s : tensor<6x4xf32>
}

// -----

// Offsets of the sorted layout range over [0, N]; every input is checked
// before the first op, in program order; a computed index is checked only
// with scope=all, right before its op.

// CHECK-LABEL: func.func @offsets_from_input
// CHECK: moe.check %{{.+}}, "input 'offsets' holds {0} at [{1}]: moe.grouped_matmul at {{.+}} needs a row offset in [0, 6)"
// CHECK-NOT: moe.check
// CHECK: moe.grouped_matmul
// ALL-LABEL: func.func @offsets_from_input
// ALL: moe.check %{{.+}}, "input 'offsets' holds {0} at [{1}]: moe.grouped_matmul
// ALL: moe.grouped_matmul
// ALL: moe.check %{{.+}}, "operand #1 of moe.scatter_add_rows holds {0} at [{1}, {2}, {3}]: moe.scatter_add_rows at {{.+}} needs a row in [-1, 5)"
// ALL-NEXT: moe.scatter_add_rows
func.func @offsets_from_input(%rows: tensor<5x4xf32> {moe.input = "rows"}, %w: tensor<2x4x4xf32> {moe.weight = "w"},
                              %offsets: tensor<3xi32> {moe.input = "offsets"}, %weights: tensor<1x5x1xf32> {moe.input = "weights"})
    -> (tensor<1x5x4xf32> {moe.output = "out"}) {
  %e = tensor.empty() : tensor<5x4xf32>
  %y = moe.grouped_matmul %rows, %w offsets %offsets into %e : tensor<5x4xf32>, tensor<2x4x4xf32>, tensor<3xi32> into tensor<5x4xf32>
  %token_row = arith.constant dense<[[[0], [1], [2], [3], [4]]]> : tensor<1x5x1xi32>
  %z = tensor.empty() : tensor<1x5x4xf32>
  %out = moe.scatter_add_rows %y, %token_row, %weights into %z : tensor<5x4xf32>, tensor<1x5x1xi32>, tensor<1x5x1xf32> into tensor<1x5x4xf32>
  return %out : tensor<1x5x4xf32>
}

// -----

// Two inputs: both checked before the first op, in program order.
// CHECK-LABEL: func.func @two_inputs
// CHECK: moe.check %{{.+}}, "input 'offsets'
// CHECK: moe.check %{{.+}}, "input 'token_row' holds {0} at [{1}, {2}, {3}]: moe.scatter_add_rows
// CHECK: moe.grouped_matmul
// CHECK-NOT: moe.check
func.func @two_inputs(%rows: tensor<5x4xf32> {moe.input = "rows"}, %w: tensor<2x4x4xf32> {moe.weight = "w"},
                      %offsets: tensor<3xi32> {moe.input = "offsets"}, %token_row: tensor<1x5x1xi32> {moe.input = "token_row"},
                      %weights: tensor<1x5x1xf32> {moe.input = "weights"})
    -> (tensor<1x5x4xf32> {moe.output = "out"}) {
  %e = tensor.empty() : tensor<5x4xf32>
  %y = moe.grouped_matmul %rows, %w offsets %offsets into %e : tensor<5x4xf32>, tensor<2x4x4xf32>, tensor<3xi32> into tensor<5x4xf32>
  %z = tensor.empty() : tensor<1x5x4xf32>
  %out = moe.scatter_add_rows %y, %token_row, %weights into %z : tensor<5x4xf32>, tensor<1x5x1xi32>, tensor<1x5x1xf32> into tensor<1x5x4xf32>
  return %out : tensor<1x5x4xf32>
}
