// RUN: moe-opt %s --split-input-file --moe-lower-grid-launches --verify-diagnostics | FileCheck %s

// A launch call becomes: the captures stored in a record allocated in the
// caller's entry block, and a call of the executor's run_grid (field 1) with
// its context (field 0), the count, the workgroup's thunk and the record.
// The thunk loads the captures and calls the workgroup function. The
// launch declaration is gone.
// CHECK-NOT: llvm.func @f_grid0
// CHECK-LABEL: llvm.func @f_workgroup0(
// CHECK-LABEL: llvm.func internal @f_workgroup0_thunk(
// CHECK-SAME: %[[REC:.*]]: !llvm.ptr, %[[ID:.*]]: i64)
// CHECK:   %[[P0:.*]] = llvm.getelementptr %[[REC]][0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, i64)>
// CHECK:   %[[V0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK:   %[[P1:.*]] = llvm.getelementptr %[[REC]][0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, i64)>
// CHECK:   %[[V1:.*]] = llvm.load %[[P1]] : !llvm.ptr -> i64
// CHECK:   llvm.call @f_workgroup0(%[[ID]], %[[V0]], %[[V1]]) : (i64, !llvm.ptr, i64) -> ()
// CHECK-LABEL: llvm.func @f(
// CHECK-SAME: %[[BUF:.*]]: !llvm.ptr, %[[N:.*]]: i64, %[[EXEC:.*]]: !llvm.ptr)
// CHECK:   %[[ONE:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK:   %[[STORAGE:.*]] = llvm.alloca %[[ONE]] x !llvm.struct<(ptr, i64)> : (i64) -> !llvm.ptr
// CHECK:   llvm.br ^bb1
// CHECK: ^bb1:
// CHECK:   llvm.store %[[BUF]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK:   llvm.store %[[N]], %{{.*}} : i64, !llvm.ptr
// CHECK:   %[[CTXP:.*]] = llvm.getelementptr %[[EXEC]][0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, ptr)>
// CHECK:   %[[CTX:.*]] = llvm.load %[[CTXP]] : !llvm.ptr -> !llvm.ptr
// CHECK:   %[[RUNP:.*]] = llvm.getelementptr %[[EXEC]][0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, ptr)>
// CHECK:   %[[RUNGRID:.*]] = llvm.load %[[RUNP]] : !llvm.ptr -> !llvm.ptr
// CHECK:   %[[THUNK:.*]] = llvm.mlir.addressof @f_workgroup0_thunk : !llvm.ptr
// CHECK:   llvm.call %[[RUNGRID]](%[[CTX]], %{{.*}}, %[[THUNK]], %[[STORAGE]]) : !llvm.ptr, (!llvm.ptr, i64, !llvm.ptr, !llvm.ptr) -> ()
// CHECK-NOT: @f_grid0
module {
  llvm.func @f_workgroup0(%id: i64, %buf: !llvm.ptr, %n: i64) {
    llvm.return
  }
  llvm.func @f_grid0(!llvm.ptr, i64, !llvm.ptr, i64) attributes {moe.grid_workgroup = @f_workgroup0}
  llvm.func @f(%buf: !llvm.ptr, %n: i64, %executor: !llvm.ptr) {
    %count = llvm.mlir.constant(16 : i64) : i64
    llvm.br ^bb1
  ^bb1:
    llvm.call @f_grid0(%executor, %count, %buf, %n) : (!llvm.ptr, i64, !llvm.ptr, i64) -> ()
    llvm.return
  }
}

// -----

module {
  // expected-error@+1 {{the workgroup function of this grid is missing; convert to the LLVM dialect first}}
  llvm.func @g_grid0(!llvm.ptr, i64) attributes {moe.grid_workgroup = @g_workgroup0}
}

// -----

// Two grids of one workgroup (moe-cpu-merge-workgroups) share its thunk.
// CHECK-LABEL: llvm.func @s_workgroup0(
// CHECK-COUNT-1: llvm.func internal @s_workgroup0_thunk(
// CHECK-NOT: _thunk
// CHECK-LABEL: llvm.func @s(
// CHECK-COUNT-2: llvm.mlir.addressof @s_workgroup0_thunk
module {
  llvm.func @s_workgroup0(%id: i64, %n: i64) {
    llvm.return
  }
  llvm.func @s_grid0(!llvm.ptr, i64, i64) attributes {moe.grid_workgroup = @s_workgroup0}
  llvm.func @s_grid1(!llvm.ptr, i64, i64) attributes {moe.grid_workgroup = @s_workgroup0}
  llvm.func @s(%n: i64, %executor: !llvm.ptr) {
    %count = llvm.mlir.constant(16 : i64) : i64
    llvm.call @s_grid0(%executor, %count, %n) : (!llvm.ptr, i64, i64) -> ()
    llvm.call @s_grid1(%executor, %count, %n) : (!llvm.ptr, i64, i64) -> ()
    llvm.return
  }
}
