// RUN: moe-opt %s --split-input-file --moe-gpu-lower-data-path=kernel=elementwise | FileCheck %s
// RUN: moe-opt %s --split-input-file --moe-gpu-lower-data-path | FileCheck %s --check-prefix=TILED
// RUN: moe-opt %s --split-input-file --moe-gpu-lower-data-path=precision=tf32 | FileCheck %s --check-prefix=TF32
// RUN: not moe-opt %s --moe-gpu-lower-data-path=kernel=fast 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not moe-opt %s --moe-gpu-lower-data-path=precision=bf16 2>&1 | FileCheck %s --check-prefix=BAD-PRECISION

// BAD: moe-gpu-lower-data-path: kernel must be 'tiled' or 'elementwise', got 'fast'
// BAD-PRECISION: moe-gpu-lower-data-path: precision must be 'f32' or 'tf32', got 'bf16'

// precision=tf32: each k step of 16 two steps of mma.sync m16n8k8 per
// 16 x 8 piece of the warp's 32 x 16 results (2 x 2 pieces): A fragments of
// 4 values, weight fragments of 2, accumulators of 4. Groups of 3 rows take
// flat tiles of 32 x 128 (8 warps side by side).
// The warps and their lanes are scf.forall loops (#gpu.warp, #gpu.lane)
// mapped by upstream's transform ops: warp thread / 32, lane thread % 32
// (a thread's place in the block, for the staging, warp * 32 + lane).
// TF32-DAG: #[[WARP:.*]] = affine_map<()[s0] -> (s0 floordiv 32)>
// TF32-DAG: #[[LANE:.*]] = affine_map<()[s0] -> (s0 mod 32)>
// TF32-LABEL: func.func @padded(
// TF32-NOT: scf.forall
// TF32: gpu.launch
// TF32: memref.alloc() : memref<16x32xf32, 3>
// TF32: memref.alloc() : memref<16x128xf32, 3>
// TF32: gpu.block_id x
// TF32: %[[T:.*]] = gpu.thread_id x
// TF32: %[[W:.*]] = affine.apply #[[WARP]]()[%[[T]]]
// TF32: affine.apply #[[LANE]]()[%thread_id_x{{.*}}]
// TF32: %[[WT:.*]] = arith.muli %[[W]], %c32
// TF32: arith.addi %[[WT]], %[[L:.*]] : index
// TF32: arith.divui %[[L]], %c4
// TF32: arith.remui %[[L]], %c4
// TF32: gpu.barrier
// TF32-COUNT-8: nvgpu.mma.sync(%{{.*}}, %{{.*}}, %{{.*}}) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
// TF32: gpu.barrier
// TF32: math.erf
// Groups of 20 rows (@padded_large): still flat tiles on tensor cores (at
// most 32 rows); ragged groups (@ragged) take 64 x 64.
// TF32-LABEL: func.func @padded_large(
// TF32: memref.alloc() : memref<16x32xf32, 3>
// TF32: memref.alloc() : memref<16x128xf32, 3>
// TF32-LABEL: func.func @ragged(
// TF32-COUNT-3: memref.alloc() : memref<16x64xf32, 3>
// swiglu: both halves, 16 mma.sync per k step of 16.
// TF32-COUNT-16: nvgpu.mma.sync

// The up projection of the padded layout (uniform groups of 3 rows): one
// generic over the result, the row's expert a division, A read by index
// (-1: zeros), k summed onto the bias, gelu.
// CHECK-LABEL: func.func @padded(
// CHECK-NOT: moe.grouped_matmul
// CHECK: linalg.generic {indexing_maps = [#{{.*}}], iterator_types = ["parallel", "parallel"]} outs(%{{.*}} : tensor<12x8xf32>)
// CHECK: %[[R:.*]] = linalg.index 0
// CHECK: %[[Q:.*]] = linalg.index 1
// CHECK: %[[D:.*]] = arith.divui %[[R]], %c3
// CHECK: %[[E:.*]] = arith.select %{{.*}}, %[[D]], %c-1
// CHECK: scf.if
// CHECK: tensor.extract %{{.*}}[%[[E]], %[[Q]]] : tensor<4x8xf32>
// CHECK: tensor.extract %{{.*}}[%[[R]]] : tensor<12xi32>
// CHECK: scf.for
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: math.erf
// kernel=tiled: one launch of E * ceil(C / rows) row tiles by
// ceil(P / columns) column tiles of 256 threads; the A and weight tiles in
// workgroup memory; every row is in a group, so the init is not copied.
// Groups of 3 rows take flat tiles of 16 x 256 (4 x 1 blocks here): A
// staged as 16 k by 16 rows, the weights as 16 k by 256 columns, threads
// 4 x 64 (thread % 64 its column), each 4 x 4 results.
// TILED-LABEL: func.func @padded(
// TILED-NOT: moe.grouped_matmul
// TILED-DAG: bufferization.to_buffer %{{.*}} read_only : tensor<6x16xf32> to memref<6x16xf32>
// TILED-DAG: bufferization.to_buffer %{{.*}} read_only : tensor<12xi32> to memref<12xi32>
// TILED: %[[OUT:.*]] = memref.alloc() : memref<12x8xf32>
// TILED-NOT: linalg.copy
// The block tiles and the threads are scf.forall loops (#gpu.block,
// #gpu.thread) mapped by upstream's transform ops onto the block and thread
// ids.
// TILED-NOT: scf.forall
// TILED: gpu.launch blocks({{.*}}) in (%{{.*}} = %c4{{(_[0-9]+)?}}, %{{.*}} = %c1{{(_[0-9]+)?}}, %{{.*}} = %c1{{(_[0-9]+)?}}) threads({{.*}}) in (%{{.*}} = %c256{{(_[0-9]+)?}},
// TILED: memref.alloc() : memref<16x16xf32, 3>
// TILED: memref.alloc() : memref<16x256xf32, 3>
// TILED: %[[B:.*]] = gpu.block_id x
// TILED: arith.divui %[[B]],
// TILED: arith.muli %{{.*}}, %c3
// TILED: scf.if
// TILED: %[[T:.*]] = gpu.thread_id x
// TILED: arith.divui %[[T]], %c64
// TILED: arith.remui %[[T]], %c64
// TILED: scf.for {{.*}} step %c16{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// TILED: memref.store %{{.*}} : memref<16x16xf32, 3>
// TILED: memref.store %{{.*}} : memref<16x256xf32, 3>
// TILED: gpu.barrier
// TILED: scf.for
// TILED: arith.mulf
// TILED: arith.addf
// TILED: gpu.barrier
// TILED: math.erf
// TILED: memref.store %{{.*}}, %[[OUT]]
// TILED: bufferization.to_tensor %[[OUT]] restrict writable : memref<12x8xf32> to tensor<12x8xf32>
func.func @padded(%x: tensor<6x16xf32>, %idx: tensor<12xi32>, %w: tensor<4x16x8xf32>,
                  %b: tensor<4x8xf32>, %init: tensor<12x8xf32>) -> tensor<12x8xf32> {
  %off = arith.constant dense<[0, 3, 6, 9, 12]> : tensor<5xi32>
  %y = moe.grouped_matmul %x gather(%idx : tensor<12xi32>), %w offsets %off
      bias(%b : tensor<4x8xf32>) into %init {activation = #moe<activation gelu>}
      : tensor<6x16xf32>, tensor<4x16x8xf32>, tensor<5xi32> into tensor<12x8xf32>
  return %y : tensor<12x8xf32>
}

// -----

// Uniform groups of 20 rows, more than flat tiles take: 64 x 64 tiles, one
// row tile per expert (2 x 1 blocks), threads 16 x 16, each 4 x 4 results;
// (tf32: flat tiles still, checked above.)
// TILED-LABEL: func.func @padded_large(
// TILED: gpu.launch blocks({{.*}}) in (%{{.*}} = %c2{{(_[0-9]+)?}}, %{{.*}} = %c1{{(_[0-9]+)?}}, %{{.*}} = %c1{{(_[0-9]+)?}}) threads({{.*}}) in (%{{.*}} = %c256{{(_[0-9]+)?}},
// TILED: memref.alloc() : memref<16x64xf32, 3>
// TILED: memref.alloc() : memref<16x64xf32, 3>
// TILED: arith.muli %{{.*}}, %c20
// TILED: %[[T:.*]] = gpu.thread_id x
// TILED: arith.divui %[[T]], %c16
// TILED: arith.remui %[[T]], %c16
func.func @padded_large(%x: tensor<40x16xf32>, %w: tensor<2x16x8xf32>,
                        %b: tensor<2x8xf32>, %init: tensor<40x8xf32>) -> tensor<40x8xf32> {
  %off = arith.constant dense<[0, 20, 40]> : tensor<3xi32>
  %y = moe.grouped_matmul %x, %w offsets %off bias(%b : tensor<2x8xf32>) into %init
      : tensor<40x16xf32>, tensor<2x16x8xf32>, tensor<3xi32> into tensor<40x8xf32>
  return %y : tensor<40x8xf32>
}

// -----

// Ragged groups (the sorted layout): the expert is searched in the offsets;
// rows outside every group keep the init. swiglu sums two columns (q and
// q + P/2) and the row scale multiplies the result.
// CHECK-LABEL: func.func @ragged(
// CHECK: linalg.generic
// CHECK: %[[R:.*]] = linalg.index 0
// CHECK: %[[Q:.*]] = linalg.index 1
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %c-1) -> (index)
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi slt
// CHECK: %[[OUT:.*]] = arith.cmpi slt, %{{.*}}, %c0
// CHECK: scf.if %[[OUT]] -> (f32)
// CHECK-NEXT: scf.yield %{{.*}} : f32
// CHECK: arith.addi %[[Q]], %c4
// CHECK: scf.for {{.*}} -> (f32, f32)
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: tensor.extract %{{.*}}[%[[R]]] : tensor<10xf32>
// kernel=tiled, ragged groups: at most ceil(N / 64) + E = 4 row tiles, each
// block finding its expert by a walk over the offsets; the init copied for
// the rows outside every group; swiglu stages both weight halves.
// TILED-LABEL: func.func @ragged(
// TILED: %[[OUT:.*]] = memref.alloc() : memref<10x4xf32>
// TILED: linalg.copy ins(%{{.*}} : memref<10x4xf32>) outs(%[[OUT]] : memref<10x4xf32>)
// TILED: gpu.launch blocks({{.*}}) in (%{{.*}} = %c4{{(_[0-9]+)?}},
// TILED-COUNT-3: memref.alloc() : memref<16x64xf32, 3>
// TILED: scf.for {{.*}} -> (index, index, index, index)
// TILED: memref.load %{{.*}} : memref<4xi32>
// TILED: arith.ceildivui
// TILED: arith.cmpi sge, %{{.*}}, %c0
// TILED: math.exp
// TILED: memref.load %{{.*}} : memref<10xf32>
// TILED: bufferization.to_tensor %[[OUT]] restrict writable
func.func @ragged(%x: tensor<10x16xf32>, %w: tensor<3x16x8xf32>, %off: tensor<4xi32>,
                  %s: tensor<10xf32>, %init: tensor<10x4xf32>) -> tensor<10x4xf32> {
  %y = moe.grouped_matmul %x, %w offsets %off scale(%s : tensor<10xf32>) into %init
      {activation = #moe<activation swiglu>}
      : tensor<10x16xf32>, tensor<3x16x8xf32>, tensor<4xi32> into tensor<10x4xf32>
  return %y : tensor<10x4xf32>
}

// -----

// The named MLP form of moe.experts (Soft MoE's experts on their slots): the
// [E, M, d] slots as E * M rows in uniform groups of M, two grouped GEMMs,
// the rows back as [E, M, d_out]; with kernel=tiled, two launches.
// CHECK-LABEL: func.func @experts(
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<4x3x8xf32> into tensor<12x8xf32>
// CHECK: arith.constant dense<[0, 3, 6, 9, 12]> : tensor<5xi32>
// CHECK: linalg.generic
// CHECK: math.erf
// CHECK: linalg.generic
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2]] output_shape [4, 3, 6] : tensor<12x6xf32> into tensor<4x3x6xf32>
// TILED-LABEL: func.func @experts(
// TILED-COUNT-2: gpu.launch
// TILED: tensor.expand_shape
// TF32-LABEL: func.func @experts(
// TF32-COUNT-2: gpu.launch
// The region form is left to moe-lower-to-linalg.
// CHECK-LABEL: func.func @region(
// CHECK: moe.experts
func.func @experts(%x: tensor<4x3x8xf32>, %w1: tensor<4x8x16xf32>, %b1: tensor<4x16xf32>,
                   %w2: tensor<4x16x6xf32>, %b2: tensor<4x6xf32>) -> tensor<4x3x6xf32> {
  %y = moe.experts %x mlp(gelu) up %w1 up_bias %b1 down %w2 down_bias %b2
      : (tensor<4x3x8xf32>, tensor<4x8x16xf32>, tensor<4x16xf32>, tensor<4x16x6xf32>,
         tensor<4x6xf32>) -> tensor<4x3x6xf32>
  return %y : tensor<4x3x6xf32>
}
func.func @region(%x: tensor<4x3x8xf32>) -> tensor<4x3x8xf32> {
  %y = moe.experts %x : (tensor<4x3x8xf32>) -> tensor<4x3x8xf32> {
  ^bb0(%e: index, %s: tensor<3x8xf32>):
    %r = math.tanh %s : tensor<3x8xf32>
    moe.yield %r : tensor<3x8xf32>
  }
  return %y : tensor<4x3x8xf32>
}
