// RUN: moe-opt %s --moe-prepare-entry --moe-insert-index-checks -split-input-file | FileCheck %s
// RUN: moe-opt %s --moe-prepare-entry --moe-insert-index-checks=scope=all -split-input-file | FileCheck %s --check-prefix=ALL
// RUN: not moe-opt %s --moe-insert-index-checks=scope=some 2>&1 | FileCheck %s --check-prefix=SCOPE

// SCOPE: moe-insert-index-checks: unknown scope 'some'; expected arguments or all

// An index tensor the caller passes in is scanned for its first element
// outside [-1, S) (a min-reduction over flat positions), and a check names
// the input, the position, the value and the range.

// CHECK-LABEL: func.func @gather_from_input
// CHECK-SAME: (%[[X:.+]]: tensor<1x8x4xf32>, %[[T:.+]]: tensor<1x2x3xi32>)
// CHECK: %[[NONE:.+]] = linalg.fill ins(%{{.+}} : i64) outs(%{{.+}} : tensor<i64>) -> tensor<i64>
// CHECK: %[[FIRST:.+]] = linalg.generic {{.+}} iterator_types = ["reduction", "reduction", "reduction"]} ins(%[[T]] : tensor<1x2x3xi32>) outs(%[[NONE]] : tensor<i64>)
// CHECK:   arith.cmpi slt, %{{.+}}, %c-1_i32 : i32
// CHECK:   arith.cmpi sge, %{{.+}}, %c8_i32 : i32
// CHECK:   arith.minsi
// CHECK: %[[POS:.+]] = tensor.extract %[[FIRST]][] : tensor<i64>
// CHECK: %[[BAD:.+]] = arith.cmpi ne, %[[POS]], %{{.+}} : i64
// CHECK: %[[V:.+]] = tensor.extract %[[T]][%[[I:.+]], %[[J:.+]], %[[K:.+]]] : tensor<1x2x3xi32>
// CHECK: moe.check %[[BAD]], "input 'slot_token' holds {0} at [{1}, {2}, {3}]: moe.gather_rows at {{.*}}moe-insert-index-checks.mlir:[[@LINE+3]]:8 needs a token of the group in [-1, 8)"(%[[V]], %[[I]], %[[J]], %[[K]] : i32, index, index, index)
// CHECK-NEXT: moe.gather_rows %[[X]], %[[T]]
func.func @gather_from_input(%x: tensor<1x8x4xf32> {moe.input = "x"}, %t: tensor<1x2x3xi32> {moe.input = "slot_token"}) -> (tensor<2x3x4xf32> {moe.output = "slots"}) {
  %s = moe.gather_rows %x, %t : tensor<1x8x4xf32>, tensor<1x2x3xi32> -> tensor<2x3x4xf32>
  return %s : tensor<2x3x4xf32>
}

// -----

// Offsets of the sorted layout range over [0, N]; a computed index is checked
// only with scope=all.

// CHECK-LABEL: func.func @offsets_from_input
// CHECK: moe.check %{{.+}}, "input 'offsets' holds {0} at [{1}]: moe.grouped_matmul at {{.+}} needs a row offset in [0, 6)"
// CHECK-NOT: moe.check
// ALL-LABEL: func.func @offsets_from_input
// ALL: moe.check %{{.+}}, "input 'offsets' holds {0} at [{1}]: moe.grouped_matmul
// ALL: moe.check %{{.+}}, "operand #1 of moe.combine_tokens holds {0} at [{1}, {2}, {3}]: moe.combine_tokens at {{.+}} needs a row in [-1, 5)"
func.func @offsets_from_input(%rows: tensor<5x4xf32> {moe.input = "rows"}, %w: tensor<2x4x4xf32> {moe.weight = "w"},
                              %offsets: tensor<3xi32> {moe.input = "offsets"}, %weights: tensor<1x5x1xf32> {moe.input = "weights"})
    -> (tensor<1x5x4xf32> {moe.output = "out"}) {
  %y = moe.grouped_matmul %rows, %w offsets %offsets : tensor<5x4xf32>, tensor<2x4x4xf32>, tensor<3xi32> -> tensor<5x4xf32>
  %token_row = arith.constant dense<[[[0], [1], [2], [3], [4]]]> : tensor<1x5x1xi32>
  %out = moe.combine_tokens %y, %token_row, %weights : tensor<5x4xf32>, tensor<1x5x1xi32>, tensor<1x5x1xf32> -> tensor<1x5x4xf32>
  return %out : tensor<1x5x4xf32>
}
