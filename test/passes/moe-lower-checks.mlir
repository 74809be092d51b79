// RUN: moe-opt %s --moe-lower-checks -split-input-file -verify-diagnostics | FileCheck %s

// The entry gets the status record as its last argument; each check branches
// to a block that stores its number and values and returns. Identical
// messages share a number; the module lists the messages in order.

// CHECK: module attributes {moe.checks = ["first {0}", "second {0} {1}"], moe.entry = @f}
// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[OUT:.+]]: memref<4xf32>, %[[A:.+]]: i1, %[[B:.+]]: i1, %[[V:.+]]: index, %[[W:.+]]: i32, %[[STATUS:.+]]: memref<8xi64>)
// CHECK-NEXT: cf.cond_br %[[A]], ^[[FAIL1:.+]], ^[[NEXT1:.+]]
// CHECK-NEXT: ^[[FAIL1]]:
// CHECK-NEXT: %[[C1:.+]] = arith.constant 1 : i64
// CHECK-NEXT: %[[S0:.+]] = arith.constant 0 : index
// CHECK-NEXT: memref.store %[[C1]], %[[STATUS]][%[[S0]]] : memref<8xi64>
// CHECK-NEXT: %[[V64:.+]] = arith.index_cast %[[V]] : index to i64
// CHECK-NEXT: %[[S1:.+]] = arith.constant 1 : index
// CHECK-NEXT: memref.store %[[V64]], %[[STATUS]][%[[S1]]] : memref<8xi64>
// CHECK-NEXT: return
// CHECK-NEXT: ^[[NEXT1]]:
// CHECK-NEXT: cf.cond_br %[[B]], ^[[FAIL2:.+]], ^[[NEXT2:.+]]
// CHECK-NEXT: ^[[FAIL2]]:
// CHECK-NEXT: %[[C2:.+]] = arith.constant 2 : i64
// CHECK:      %[[W64:.+]] = arith.extsi %[[W]] : i32 to i64
// CHECK:      memref.store %[[W64]], %[[STATUS]][%{{.+}}] : memref<8xi64>
// CHECK-NEXT: return
// CHECK-NEXT: ^[[NEXT2]]:
// CHECK-NEXT: cf.cond_br %[[A]], ^[[FAIL3:.+]], ^[[NEXT3:.+]]
// CHECK-NEXT: ^[[FAIL3]]:
// CHECK-NEXT: %{{.+}} = arith.constant 1 : i64
// CHECK:      ^[[NEXT3]]:
// CHECK-NEXT: return
module attributes {moe.entry = @f} {
  func.func @f(%out: memref<4xf32>, %a: i1, %b: i1, %v: index, %w: i32) {
    moe.check %a, "first {0}" (%v : index)
    moe.check %b, "second {0} {1}" (%v, %w : index, i32)
    moe.check %a, "first {0}" (%v : index)
    return
  }
}

// -----

// No checks: the entry still takes the status record (ABI version 2).
// CHECK: module attributes {moe.checks = [], moe.entry = @g}
// CHECK: func.func @g(%{{.+}}: memref<4xf32>, %{{.+}}: memref<8xi64>)
module attributes {moe.entry = @g} {
  func.func @g(%out: memref<4xf32>) {
    return
  }
}

// -----

module attributes {moe.entry = @h} {
  func.func @h(%out: memref<4xf32>, %a: i1) {
    call @callee(%a) : (i1) -> ()
    return
  }
  func.func private @callee(%a: i1) {
    // expected-error@+1 {{'moe.check' op is outside the entry function and its workgroups; only those can report an error (inline its callees first)}}
    moe.check %a, "lost"
    return
  }
}

// -----

module attributes {moe.entry = @r} {
  func.func @r(%a: i1, %n: index) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    scf.for %i = %c0 to %n step %c1 {
      // expected-error@+1 {{'moe.check' op is inside a region; lower structured control flow first (convert-scf-to-cf)}}
      moe.check %a, "in a loop"
    }
    return
  }
}

// -----

module attributes {moe.entry = @results} {
  // expected-error@+1 {{'func.func' op must return its results through out-parameters (buffer-results-to-out-params) to report errors}}
  func.func @results(%a: i1) -> i1 {
    return %a : i1
  }
}

// -----

func.func @unprepared(%a: i1) {
  // expected-error@+1 {{'moe.check' op needs an entry; run moe-prepare-entry first}}
  moe.check %a, "no entry"
  return
}

// -----

// ABI version 3: the record goes before the executor. A check in a
// workgroup function claims the record with a compare-and-swap of its first
// word from 0; only the claimer stores the values, every failing workgroup
// returns. The workgroup takes the record and the first code of its checks
// as last arguments (its checks number from there, so that workgroups that
// differ only in their messages are one function), its grid's launch passes
// them, and the entry returns after the grid when it failed.
// CHECK: module attributes {moe.checks = ["in the entry", "in a workgroup {0}", "again {0}"], moe.entry = @w, moe.executor}
// CHECK-LABEL: func.func private @w_workgroup0
// CHECK-SAME: (%[[ID:.+]]: index, %[[BAD:.+]]: i1, %[[REC:.+]]: memref<8xi64>, %[[FIRSTCODE:.+]]: i64) attributes {moe.workgroup}
// CHECK-NEXT: cf.cond_br %[[BAD]], ^[[FAIL:.+]], ^[[OK:.+]]
// CHECK-NEXT: ^[[FAIL]]:
// CHECK-NEXT: %[[ZERO_OFFSET:.+]] = arith.constant 0 : i64
// CHECK-NEXT: %[[CODE:.+]] = arith.addi %[[FIRSTCODE]], %[[ZERO_OFFSET]] : i64
// CHECK-NEXT: %[[ZERO:.+]] = arith.constant 0 : i64
// CHECK-NEXT: %[[ADDR:.+]] = memref.extract_aligned_pointer_as_index %[[REC]]
// CHECK-NEXT: %[[ADDR64:.+]] = arith.index_cast %[[ADDR]] : index to i64
// CHECK-NEXT: %[[PTR:.+]] = llvm.inttoptr %[[ADDR64]] : i64 to !llvm.ptr
// CHECK-NEXT: %[[CAS:.+]] = llvm.cmpxchg %[[PTR]], %[[ZERO]], %[[CODE]] acq_rel monotonic : !llvm.ptr, i64
// CHECK-NEXT: %[[WON:.+]] = llvm.extractvalue %[[CAS]][1] : !llvm.struct<(i64, i1)>
// CHECK-NEXT: cf.cond_br %[[WON]], ^[[STORE:.+]], ^[[LEAVE:.+]]
// CHECK-NEXT: ^[[STORE]]:
// CHECK-NEXT: %[[ID64:.+]] = arith.index_cast %[[ID]] : index to i64
// CHECK-NEXT: %[[S1:.+]] = arith.constant 1 : index
// CHECK-NEXT: memref.store %[[ID64]], %[[REC]][%[[S1]]] : memref<8xi64>
// CHECK-NEXT: return
// CHECK-NEXT: ^[[LEAVE]]:
// CHECK-NEXT: return
// CHECK: %[[ONE_OFFSET:.+]] = arith.constant 1 : i64
// CHECK-NEXT: arith.addi %[[FIRSTCODE]], %[[ONE_OFFSET]] : i64
// CHECK: func.func private @w_grid0(!llvm.ptr, index, i1, memref<8xi64>, i64) attributes {moe.grid_workgroup = @w_workgroup0}
// CHECK-LABEL: func.func @w
// CHECK-SAME: (%[[OUT:.+]]: memref<4xf32>, %[[A:.+]]: i1, %[[STATUS:.+]]: memref<8xi64>, %[[EXEC:.+]]: !llvm.ptr)
// CHECK: %[[TWO:.+]] = arith.constant 2 : i64
// CHECK-NEXT: call @w_grid0(%[[EXEC]], %{{.+}}, %[[A]], %[[STATUS]], %[[TWO]])
// CHECK-NEXT: %[[Z:.+]] = arith.constant 0 : index
// CHECK-NEXT: %[[FIRST:.+]] = memref.load %[[STATUS]][%[[Z]]] : memref<8xi64>
// CHECK-NEXT: %[[ZERO64:.+]] = arith.constant 0 : i64
// CHECK-NEXT: %[[FAILED:.+]] = arith.cmpi ne, %[[FIRST]], %[[ZERO64]] : i64
// CHECK-NEXT: cf.cond_br %[[FAILED]], ^[[RET:.+]], ^[[AFTER:.+]]
// CHECK-NEXT: ^[[RET]]:
// CHECK-NEXT: return
module attributes {moe.entry = @w, moe.executor} {
  func.func private @w_workgroup0(%id: index, %bad: i1) attributes {moe.workgroup} {
    moe.check %bad, "in a workgroup {0}" (%id : index)
    moe.check %bad, "again {0}" (%id : index)
    return
  }
  func.func private @w_grid0(!llvm.ptr, index, i1) attributes {moe.grid_workgroup = @w_workgroup0}
  func.func @w(%out: memref<4xf32>, %a: i1, %executor: !llvm.ptr) {
    moe.check %a, "in the entry"
    %c4 = arith.constant 4 : index
    call @w_grid0(%executor, %c4, %a) : (!llvm.ptr, index, i1) -> ()
    return
  }
}
