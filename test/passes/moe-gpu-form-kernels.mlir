// RUN: moe-opt %s --split-input-file --verify-diagnostics --moe-gpu-form-kernels='threads=32 single-block-threads=64' | FileCheck %s
// RUN: moe-opt %s --split-input-file --verify-diagnostics --moe-gpu-form-kernels='threads=32 single-block-threads=64' --canonicalize --cse | FileCheck %s --check-prefix=FOLDED

// An entry after bufferization and convert-linalg-to-parallel-loops:
// - the element-wise loop (constant bounds, no allocation) is a grid of one
//   iteration per thread: ceil(100 / 32) = 4 blocks, iteration
//   block * 32 + thread (upstream's mapping of scf.forall loops onto blocks
//   and threads), guarded by the count;
// - the sequential code (a running sum over the rows, a store) is one block
//   of 64 threads (single-block-threads): the loop that only writes runs on
//   thread 0 with barriers around it;
// - the forall is a grid of one block per iteration (8), mapped onto the
//   blocks by upstream's map_forall_to_blocks (the iteration from the block
//   ids), its inner parallel loop shared out over the block's threads by a
//   block-stride loop;
// - the entry's buffer %t is a view of the workspace (last argument),
//   and the scratch allocation in the forall a view per block of the
//   forall's scratch area (placed by lifetime: %t is read in all three
//   launches, so the scratch area, 8 x 64 bytes, has bytes of its own).
// CHECK: module attributes {gpu.container_module, moe.entry = @f, moe.workspace_bytes = [[W:[0-9]+]] : i64}
// CHECK-LABEL: func.func @f(
// CHECK-SAME: %[[WS:[a-z0-9]+]]: memref<[[W]]xi8>)
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c4{{(_[0-9]+)?}}, {{.*}}) threads({{.*}}) in ({{.*}} = %c32{{(_[0-9]+)?}}, {{.*}})
// CHECK: memref.view %[[WS]][%{{.*}}][] : memref<[[W]]xi8> to memref<100xf32>
// CHECK: %[[B:.*]] = gpu.block_id x
// CHECK: %[[T:.*]] = gpu.thread_id x
// CHECK: %[[BASE:.*]] = arith.muli %[[B]], %c32
// CHECK: %[[I:.*]] = arith.addi %[[BASE]], %[[T]]
// CHECK: arith.cmpi ult, %[[I]], %c100
// CHECK: scf.if
// CHECK: math.exp
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{(_[0-9]+)?}}, {{.*}}) threads({{.*}}) in ({{.*}} = %c64{{(_[0-9]+)?}}, {{.*}})
// CHECK: gpu.barrier
// CHECK: arith.cmpi eq, %{{.*}}, %c0
// CHECK-NEXT: scf.if
// CHECK-NEXT: scf.for
// CHECK: gpu.barrier
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[C8:.*]], {{.*}})
// CHECK-NOT: scf.forall
// CHECK: gpu.block_id x
// CHECK: affine.apply #{{.*}}()[%block_id_x, %block_id_y, %block_id_z]
// CHECK: memref.view %[[WS]][%{{.*}}][] : memref<[[W]]xi8> to memref<16xf32>
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{[0-9]+}}, %{{.*}}] : memref<8x16xf32>
// CHECK: gpu.barrier
// CHECK: gpu.terminator
// CHECK: return
module attributes {moe.entry = @f} {
  func.func @f(%x: memref<100xf32>, %out: memref<8x16xf32>, %sum: memref<1xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    %c100 = arith.constant 100 : index
    %zero = arith.constant 0.0 : f32
    %t = memref.alloc() : memref<100xf32>
    scf.parallel (%i) = (%c0) to (%c100) step (%c1) {
      %v = memref.load %x[%i] : memref<100xf32>
      %e = math.exp %v : f32
      memref.store %e, %t[%i] : memref<100xf32>
      scf.reduce
    }
    scf.for %i = %c0 to %c100 step %c1 {
      %v = memref.load %t[%i] : memref<100xf32>
      %s = memref.load %sum[%c0] : memref<1xf32>
      %n = arith.addf %s, %v : f32
      memref.store %n, %sum[%c0] : memref<1xf32>
    }
    scf.forall (%e) in (8) {
      %scratch = memref.alloc() : memref<16xf32>
      scf.parallel (%j) = (%c0) to (%c16) step (%c1) {
        %v = memref.load %t[%j] : memref<100xf32>
        memref.store %v, %scratch[%j] : memref<16xf32>
        memref.store %v, %out[%e, %j] : memref<8x16xf32>
        scf.reduce
      }
    }
    return
  }
}

// -----

// A value computed in one launch and used by a later one (a grid of more
// iterations than one block has threads) goes through a workspace buffer:
// the first launch stores it (thread 0), the second loads it.
// CHECK-LABEL: func.func @g(
// CHECK: gpu.launch
// CHECK: %[[N:.*]] = memref.load %{{.*}}[%{{.*}}] : memref<4xi32>
// CHECK: scf.if
// CHECK-NEXT: memref.store %{{.*}}, %{{.*}}[%{{.*}}] : memref<1xi32>
// CHECK: gpu.launch
// CHECK: memref.load %{{.*}}[%{{.*}}] : memref<1xi32>
module attributes {moe.entry = @g} {
  func.func @g(%a: memref<4xi32>, %out: memref<4x32xi32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c32 = arith.constant 32 : index
    %n = memref.load %a[%c0] : memref<4xi32>
    scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c32) step (%c1, %c1) {
      memref.store %n, %out[%i, %j] : memref<4x32xi32>
      scf.reduce
    }
    return
  }
}

// -----

module attributes {moe.entry = @dynamic} {
  func.func @dynamic(%n: index) {
    // expected-error @+1 {{'memref.alloc' op of a dynamic shape or a layout cannot be placed in the GPU workspace}}
    %t = memref.alloc(%n) : memref<?xf32>
    return
  }
}

// -----

module attributes {moe.entry = @unbounded} {
  func.func @unbounded(%a: memref<4xindex>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %n = memref.load %a[%c0] : memref<4xindex>
    scf.for %i = %c0 to %n step %c1 {
      // expected-error @+1 {{'memref.alloc' op in a loop of an unknown number of iterations cannot be placed in GPU scratch memory}}
      %t = memref.alloc() : memref<4xf32>
      %z = arith.constant 0.0 : f32
      memref.store %z, %t[%c0] : memref<4xf32>
    }
    return
  }
}

// -----

// Run-time checks return early from the entry on the CPU; not in kernels yet.
module attributes {moe.entry = @checked} {
  func.func @checked(%ok: i1) {
    // expected-error @+1 {{'moe.check' op is not supported in GPU kernels yet (run-time checks of index inputs run on the CPU only)}}
    moe.check %ok, "index out of range"
    return
  }
}

// -----

// A launch built before (the tiled grouped GEMM) stays as it is, its
// workgroup memory included; the entry buffer it writes is a view of the
// workspace, and the loop after it a grid of its own.
// CHECK-LABEL: func.func @built(
// CHECK-SAME: %[[WS:[a-z0-9]+]]: memref<3072xi8>)
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c3, {{.*}}) threads({{.*}}) in ({{.*}} = %c256, {{.*}})
// CHECK: %[[BUF:.*]] = memref.view %[[WS]][%c0{{(_[0-9]+)?}}][] : memref<3072xi8> to memref<768xf32>
// CHECK: memref.alloc() : memref<256xf32, 3>
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[BUF]]
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c24, {{.*}}) threads({{.*}}) in ({{.*}} = %c32, {{.*}})
// CHECK: %[[BUF2:.*]] = memref.view %[[WS]][%c0{{(_[0-9]+)?}}][] : memref<3072xi8> to memref<768xf32>
// CHECK: memref.load %[[BUF2]]
module attributes {moe.entry = @built} {
  func.func @built(%x: memref<768xf32>, %out: memref<768xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c3 = arith.constant 3 : index
    %c256 = arith.constant 256 : index
    %c768 = arith.constant 768 : index
    %t = memref.alloc() : memref<768xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c3, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
      %shared = memref.alloc() : memref<256xf32, 3>
      %i = arith.addi %tx, %bx : index
      %v = memref.load %x[%i] : memref<768xf32>
      memref.store %v, %shared[%tx] : memref<256xf32, 3>
      gpu.barrier
      %w = memref.load %shared[%tx] : memref<256xf32, 3>
      memref.store %w, %t[%i] : memref<768xf32>
      gpu.terminator
    }
    scf.parallel (%j) = (%c0) to (%c768) step (%c1) {
      %v = memref.load %t[%j] : memref<768xf32>
      memref.store %v, %out[%j] : memref<768xf32>
      scf.reduce
    }
    return
  }
}

// -----

// A grid whose iterations hold parallel loops (nested scatters): each thread
// runs its iteration's loops in order, as nested scf.for loops (innermost
// made first).
// CHECK-LABEL: func.func @nested_parallel(
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c4{{(_[0-9]+)?}}, {{.*}}) threads({{.*}}) in ({{.*}} = %c32{{(_[0-9]+)?}}, {{.*}})
// CHECK: scf.if
// CHECK: %[[N:.*]] = arith.index_cast
// CHECK: scf.for %[[C:.*]] = %{{.*}} to %[[N]]
// CHECK: scf.for
// CHECK: memref.store
// CHECK-NOT: scf.parallel
module attributes {moe.entry = @nested_parallel} {
  func.func @nested_parallel(%counts: memref<100xi32>, %out: memref<100x16x2xi32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c100 = arith.constant 100 : index
    scf.parallel (%e) = (%c0) to (%c100) step (%c1) {
      %n32 = memref.load %counts[%e] : memref<100xi32>
      %n = arith.index_cast %n32 : i32 to index
      scf.parallel (%c) = (%c0) to (%n) step (%c1) {
        scf.parallel (%j) = (%c0) to (%c2) step (%c1) {
          memref.store %n32, %out[%e, %c, %j] : memref<100x16x2xi32>
          scf.reduce
        }
        scf.reduce
      }
      scf.reduce
    }
    return
  }
}

// -----

// A grid of no more iterations than one block has threads (64 here) joins
// the one-block launch around it: the load, the 8 stores shared out over
// the block's threads between barriers, and the store after them, one
// launch.
// CHECK-LABEL: func.func @small_grid_joins(
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{(_[0-9]+)?}}, {{.*}}) threads({{.*}}) in ({{.*}} = %c64{{(_[0-9]+)?}}, {{.*}})
// CHECK: memref.load %{{.*}} : memref<8xi32>
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK: memref.store %{{.*}} : memref<8xi32>
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}} : memref<1xi32>
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
module attributes {moe.entry = @small_grid_joins} {
  func.func @small_grid_joins(%a: memref<8xi32>, %out: memref<8xi32>, %last: memref<1xi32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c7 = arith.constant 7 : index
    %c8 = arith.constant 8 : index
    %n = memref.load %a[%c0] : memref<8xi32>
    scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
      memref.store %n, %out[%i] : memref<8xi32>
      scf.reduce
    }
    %v = memref.load %out[%c7] : memref<8xi32>
    memref.store %v, %last[%c0] : memref<1xi32>
    return
  }
}

// -----

// A grid of two dimensions, not from 0 by 1: upstream's normalization and
// mapping onto the blocks, 4 x 3 = 12 of them, the outermost dimension
// slowest: i = block / 3, j = 2 + (block % 3) * 4 (checked after
// canonicalization).
// FOLDED-DAG: #[[I:.*]] = affine_map<()[s0, s1, s2] -> (s1 * 4 + s2 * 4 + s0 floordiv 3)>
// FOLDED-DAG: #[[J:.*]] = affine_map<()[s0] -> (s0 * 4 - (s0 floordiv 3) * 12 + 2)>
// CHECK-LABEL: func.func @grid2d(
// FOLDED-LABEL: func.func @grid2d(
// FOLDED: gpu.launch blocks({{.*}}) in ({{.*}} = %c12{{(_[0-9]+)?}}, {{.*}})
// FOLDED: %[[BX:.*]] = gpu.block_id x
// FOLDED: %[[BY:.*]] = gpu.block_id y
// FOLDED: %[[BZ:.*]] = gpu.block_id z
// FOLDED: %[[II:.*]] = affine.apply #[[I]]()[%[[BX]], %[[BY]], %[[BZ]]]
// FOLDED: %[[JJ:.*]] = affine.apply #[[J]]()[%[[BX]]]
// FOLDED: memref.store %{{.*}}, %{{.*}}[%[[II]], %[[JJ]]] : memref<4x16xf32>
module attributes {moe.entry = @grid2d} {
  func.func @grid2d(%out: memref<4x16xf32>) {
    %one = arith.constant 1.0 : f32
    scf.forall (%i, %j) = (0, 2) to (4, 14) step (1, 4) {
      memref.store %one, %out[%i, %j] : memref<4x16xf32>
    }
    return
  }
}

// -----

// The workspace by lifetime: %a lives in the first two launches, %b in the
// last two, so both are at offset 0 and the workspace holds one of them
// (4000 bytes, aligned to 64: 4032), not both.
// CHECK: moe.workspace_bytes = 4032 : i64
// CHECK-LABEL: func.func @disjoint_lifetimes(
// CHECK-SAME: %[[WS:[a-z0-9]+]]: memref<4032xi8>)
// CHECK-COUNT-4: memref.view %[[WS]][%c0{{(_[0-9]+)?}}][] : memref<4032xi8> to memref<1000xf32>
module attributes {moe.entry = @disjoint_lifetimes} {
  func.func @disjoint_lifetimes(%x: memref<1000xf32>, %out: memref<1000xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c1000 = arith.constant 1000 : index
    %two = arith.constant 2.0 : f32
    %a = memref.alloc() : memref<1000xf32>
    %b = memref.alloc() : memref<1000xf32>
    scf.parallel (%i) = (%c0) to (%c1000) step (%c1) {
      %v = memref.load %x[%i] : memref<1000xf32>
      %w = arith.mulf %v, %two : f32
      memref.store %w, %a[%i] : memref<1000xf32>
      scf.reduce
    }
    scf.parallel (%i) = (%c0) to (%c1000) step (%c1) {
      %v = memref.load %a[%i] : memref<1000xf32>
      memref.store %v, %out[%i] : memref<1000xf32>
      scf.reduce
    }
    scf.parallel (%i) = (%c0) to (%c1000) step (%c1) {
      %v = memref.load %out[%i] : memref<1000xf32>
      %w = arith.addf %v, %two : f32
      memref.store %w, %b[%i] : memref<1000xf32>
      scf.reduce
    }
    scf.parallel (%i) = (%c0) to (%c1000) step (%c1) {
      %v = memref.load %b[%i] : memref<1000xf32>
      memref.store %v, %out[%i] : memref<1000xf32>
      scf.reduce
    }
    return
  }
}

// -----

// Lifetimes that overlap (%a in launches 0-2, %b in 1-2): side by side.
// CHECK: moe.workspace_bytes = 8064 : i64
// CHECK-LABEL: func.func @overlapping_lifetimes(
// CHECK-DAG: memref.view %{{.*}}[%c0{{(_[0-9]+)?}}][] : memref<8064xi8> to memref<1000xf32>
// CHECK-DAG: memref.view %{{.*}}[%c4032{{(_[0-9]+)?}}][] : memref<8064xi8> to memref<1000xf32>
module attributes {moe.entry = @overlapping_lifetimes} {
  func.func @overlapping_lifetimes(%x: memref<1000xf32>, %out: memref<1000xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c1000 = arith.constant 1000 : index
    %two = arith.constant 2.0 : f32
    %a = memref.alloc() : memref<1000xf32>
    %b = memref.alloc() : memref<1000xf32>
    scf.parallel (%i) = (%c0) to (%c1000) step (%c1) {
      %v = memref.load %x[%i] : memref<1000xf32>
      memref.store %v, %a[%i] : memref<1000xf32>
      scf.reduce
    }
    scf.parallel (%i) = (%c0) to (%c1000) step (%c1) {
      %v = memref.load %a[%i] : memref<1000xf32>
      %w = arith.mulf %v, %two : f32
      memref.store %w, %b[%i] : memref<1000xf32>
      scf.reduce
    }
    scf.parallel (%i) = (%c0) to (%c1000) step (%c1) {
      %v = memref.load %a[%i] : memref<1000xf32>
      %w = memref.load %b[%i] : memref<1000xf32>
      %s = arith.addf %v, %w : f32
      memref.store %s, %out[%i] : memref<1000xf32>
      scf.reduce
    }
    return
  }
}
