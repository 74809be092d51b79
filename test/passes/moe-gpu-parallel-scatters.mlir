// RUN: moe-opt %s --moe-gpu-parallel-scatters --split-input-file | FileCheck %s

// The inverse of a permutation: a marked loop becomes an scf.parallel of
// the same bounds and body.
// CHECK-LABEL: func.func @inverse_permutation(
// CHECK-NOT: scf.for
// CHECK: scf.parallel (%[[S:.*]]) = (%c0) to (%c1576) step (%c1) {
// CHECK:   %[[R:.*]] = memref.load %{{.*}}[%c0, %[[S]]]
// CHECK:   %[[I:.*]] = arith.index_cast %[[R]] : i32 to index
// CHECK:   %[[V:.*]] = arith.index_cast %[[S]] : index to i32
// CHECK:   memref.store %[[V]], %{{.*}}[%c0, %[[I]]]
// CHECK:   scf.reduce
// CHECK-NOT: moe.disjoint_iterations
func.func @inverse_permutation(%rank: memref<1x1576xi32>, %order: memref<1x1576xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1576 = arith.constant 1576 : index
  scf.for %s = %c0 to %c1576 step %c1 {
    %r = memref.load %rank[%c0, %s] : memref<1x1576xi32>
    %i = arith.index_cast %r : i32 to index
    %v = arith.index_cast %s : index to i32
    memref.store %v, %order[%c0, %i] : memref<1x1576xi32>
  } {moe.disjoint_iterations}
  return
}

// -----

// Nested marked loops (the rows of the sorted layout, an inner loop of a
// dynamic trip count) both become parallel; a branch in the body stays.
// CHECK-LABEL: func.func @nested(
// CHECK: scf.parallel (%[[E:.*]]) = (%c0) to (%c8) step (%c1) {
// CHECK:   %[[N:.*]] = arith.index_cast
// CHECK:   scf.parallel (%[[C:.*]]) = (%c0) to (%[[N]]) step (%c1) {
// CHECK:     scf.if
// CHECK:       memref.store
func.func @nested(%counts: memref<8xi32>, %table: memref<8x16xi32>, %rows: memref<128xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c0_i32 = arith.constant 0 : i32
  scf.for %e = %c0 to %c8 step %c1 {
    %n32 = memref.load %counts[%e] : memref<8xi32>
    %n = arith.index_cast %n32 : i32 to index
    scf.for %c = %c0 to %n step %c1 {
      %t = memref.load %table[%e, %c] : memref<8x16xi32>
      %taken = arith.cmpi sge, %t, %c0_i32 : i32
      scf.if %taken {
        %base = arith.muli %e, %c16 : index
        %row = arith.addi %base, %c : index
        memref.store %t, %rows[%row] : memref<128xi32>
      }
    } {moe.disjoint_iterations}
  } {moe.disjoint_iterations}
  return
}

// -----

// Unmarked loops, marked loops that carry a value, and marked loops whose
// body allocates stay sequential.
// CHECK-LABEL: func.func @kept(
// CHECK-NOT: scf.parallel
// CHECK: scf.for
// CHECK: scf.for {{.*}} iter_args
// CHECK: scf.for
// CHECK: memref.alloca
// CHECK-NOT: scf.parallel
func.func @kept(%x: memref<8xi32>, %y: memref<8xi32>) -> i32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c0_i32 = arith.constant 0 : i32
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %x[%i] : memref<8xi32>
    memref.store %v, %y[%i] : memref<8xi32>
  }
  %sum = scf.for %i = %c0 to %c8 step %c1 iter_args(%acc = %c0_i32) -> (i32) {
    %v = memref.load %x[%i] : memref<8xi32>
    %next = arith.addi %acc, %v : i32
    scf.yield %next : i32
  } {moe.disjoint_iterations}
  scf.for %i = %c0 to %c8 step %c1 {
    %tmp = memref.alloca() : memref<1xi32>
    %v = memref.load %x[%i] : memref<8xi32>
    memref.store %v, %tmp[%c0] : memref<1xi32>
    %w = memref.load %tmp[%c0] : memref<1xi32>
    memref.store %w, %y[%i] : memref<8xi32>
  } {moe.disjoint_iterations}
  return %sum : i32
}
