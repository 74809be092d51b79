// RUN: moe-opt %s --split-input-file --moe-cpu-outline-workgroups --canonicalize --verify-diagnostics | FileCheck %s

// Each outermost scf.forall of the entry becomes a workgroup function (its
// iteration from the flat workgroup id, innermost dimension fastest) and a
// call of the grid's launch declaration with the executor, the number of
// workgroups and the captured values. The entry takes the executor last.
// CHECK: module attributes {moe.entry = @f, moe.executor
// CHECK-LABEL: func.func private @f_workgroup0(
// CHECK-SAME: %[[ID:.*]]: index, %[[IN:.*]]: memref<8x64xf32>, %[[OUT:.*]]: memref<8x64xf32>) attributes {moe.workgroup}
// CHECK-DAG:   %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG:   %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG:   %[[C16:.*]] = arith.constant 16 : index
// CHECK:       %[[J:.*]] = arith.remui %[[ID]], %[[C4]] : index
// CHECK:       %[[I:.*]] = arith.divui %[[ID]], %[[C4]] : index
// CHECK:       %[[ROW:.*]] = arith.muli %[[I]], %[[C2]] : index
// CHECK:       %[[COL:.*]] = arith.muli %[[J]], %[[C16]] : index
// CHECK:       memref.subview %[[IN]][%[[ROW]], %[[COL]]] [2, 16] [1, 1]
// CHECK:       linalg.generic
// CHECK:       return
// CHECK: func.func private @f_grid0(!llvm.ptr, index, memref<8x64xf32>, memref<8x64xf32>) attributes {moe.grid_workgroup = @f_workgroup0}
// An expert loop around a column split is one grid of 4 x 2 workgroups;
// the inner loop's body reads the expert's row.
// CHECK-LABEL: func.func private @f_workgroup1(
// CHECK-SAME: %[[ID:.*]]: index, %[[ROWS:.*]]: memref<4xindex>, %[[OUT:.*]]: memref<8x64xf32>)
// CHECK:       %[[N:.*]] = arith.remui %[[ID]], %{{.*}} : index
// CHECK:       %[[E:.*]] = arith.divui %[[ID]], %{{.*}} : index
// CHECK:       memref.load %[[ROWS]][%[[E]]] : memref<4xindex>
// CHECK:       linalg.fill
// CHECK-NOT:   scf.forall
// CHECK: func.func private @f_grid1(!llvm.ptr, index, memref<4xindex>, memref<8x64xf32>) attributes {moe.grid_workgroup = @f_workgroup1}
// CHECK-LABEL: func.func @f(
// CHECK-SAME: %[[A0:.*]]: memref<8x64xf32>, %[[A1:.*]]: memref<8x64xf32>, %[[A2:.*]]: memref<4xindex>, %[[EXEC:.*]]: !llvm.ptr)
// CHECK-DAG:   %[[C16:.*]] = arith.constant 16 : index
// CHECK-DAG:   %[[C8:.*]] = arith.constant 8 : index
// CHECK:       call @f_grid0(%[[EXEC]], %[[C16]], %[[A0]], %[[A1]])
// CHECK:       call @f_grid1(%[[EXEC]], %[[C8]], %[[A2]], %[[A1]])
// CHECK-NOT:   scf.forall
module attributes {moe.entry = @f, moe.signature = "{}"} {
  func.func @f(%in: memref<8x64xf32>, %out: memref<8x64xf32>, %rows: memref<4xindex>) {
    %c2 = arith.constant 2.0 : f32
    scf.forall (%i, %j) = (0, 0) to (8, 64) step (2, 16) {
      %v = memref.subview %in[%i, %j] [2, 16] [1, 1] : memref<8x64xf32> to memref<2x16xf32, strided<[64, 1], offset: ?>>
      %o = memref.subview %out[%i, %j] [2, 16] [1, 1] : memref<8x64xf32> to memref<2x16xf32, strided<[64, 1], offset: ?>>
      linalg.generic {indexing_maps = [affine_map<(a, b) -> (a, b)>, affine_map<(a, b) -> (a, b)>], iterator_types = ["parallel", "parallel"]} ins(%v : memref<2x16xf32, strided<[64, 1], offset: ?>>) outs(%o : memref<2x16xf32, strided<[64, 1], offset: ?>>) {
      ^bb0(%a: f32, %b: f32):
        %m = arith.mulf %a, %c2 : f32
        linalg.yield %m : f32
      }
    }
    scf.forall (%e) in (4) {
      %r = memref.load %rows[%e] : memref<4xindex>
      scf.forall (%n) = (0) to (64) step (32) {
        %s = memref.subview %out[%r, %n] [1, 32] [1, 1] : memref<8x64xf32> to memref<1x32xf32, strided<[64, 1], offset: ?>>
        linalg.fill ins(%c2 : f32) outs(%s : memref<1x32xf32, strided<[64, 1], offset: ?>>)
      }
    }
    return
  }
}

// -----

// An outer body that writes memory besides its inner loop is not flattened:
// the inner loop stays a sequential loop inside each workgroup.
// CHECK-LABEL: func.func private @g_workgroup0(
// CHECK:       memref.store
// CHECK:       scf.forall
// CHECK-LABEL: func.func @g(
// CHECK:       call @g_grid0(%{{.*}}, %c4
module attributes {moe.entry = @g, moe.signature = "{}"} {
  func.func @g(%out: memref<4x64xf32>, %flags: memref<4xf32>) {
    %c2 = arith.constant 2.0 : f32
    scf.forall (%e) in (4) {
      memref.store %c2, %flags[%e] : memref<4xf32>
      scf.forall (%n) = (0) to (64) step (32) {
        %s = memref.subview %out[%e, %n] [1, 32] [1, 1] : memref<4x64xf32> to memref<1x32xf32, strided<[64, 1], offset: ?>>
        linalg.fill ins(%c2 : f32) outs(%s : memref<1x32xf32, strided<[64, 1], offset: ?>>)
      }
    }
    return
  }
}

// -----

// expected-error@+1 {{no entry was prepared; run moe-prepare-entry before bufferization}}
module {
  func.func @h() {
    return
  }
}

// -----

module attributes {moe.entry = @k, moe.signature = "{}"} {
  func.func @k(%t: tensor<4xf32>) -> tensor<4xf32> {
    // expected-error@+1 {{'scf.forall' op still has results; bufferize first}}
    %r = scf.forall (%i) in (4) shared_outs(%o = %t) -> (tensor<4xf32>) {
      scf.forall.in_parallel {
      }
    }
    return %r : tensor<4xf32>
  }
}
