// RUN: moe-opt %s --split-input-file --verify-diagnostics --moe-gpu-emulate-mma-sync | FileCheck %s

// Each mma.sync m16n8k8 becomes stores of the lane's fragment values where
// upstream's fragment layout (nvgpu::getLaneIdAndValueIdToOperandCoord) puts
// them in its warp's A (16 x 8) and B (8 x 8) matrices in workgroup memory
// (4 warps: 128 threads), a barrier, each accumulator value summed over
// k = 0 .. 7 from those matrices, and a barrier. (The layouts' values are
// checked by running the tensor-core kernels: routers-opencl.test.)
// CHECK-LABEL: gpu.func @kernel(
// CHECK-DAG: %[[A:.*]] = memref.alloc() : memref<4x16x8xf32, 3>
// CHECK-DAG: %[[B:.*]] = memref.alloc() : memref<4x8x8xf32, 3>
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[WARP:.*]] = arith.divui %[[TID]], %c32
// CHECK: %[[LANE:.*]] = arith.remui %[[TID]], %c32
// CHECK-NOT: nvgpu.mma.sync
// CHECK: vector.extract %{{.*}}[0, 0] : f32 from vector<4x1xf32>
// CHECK: memref.store %{{.*}}, %[[A]][%[[WARP]], %{{.*}}, %{{.*}}]
// CHECK: vector.extract %{{.*}}[3, 0] : f32 from vector<4x1xf32>
// CHECK: memref.store %{{.*}}, %[[A]][%[[WARP]], %{{.*}}, %{{.*}}]
// CHECK: vector.extract %{{.*}}[1, 0] : f32 from vector<2x1xf32>
// CHECK: memref.store %{{.*}}, %[[B]][%[[WARP]], %{{.*}}, %{{.*}}]
// CHECK: gpu.barrier
// CHECK-COUNT-32: arith.mulf
// CHECK: gpu.barrier
// CHECK: vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<2x2xf32>
gpu.module @kernels {
  gpu.func @kernel(%a: vector<4x1xf32>, %b: vector<2x1xf32>, %c: vector<2x2xf32>,
                   %out: memref<128x4xf32>) kernel
      attributes {known_block_size = array<i32: 128, 1, 1>} {
    %d = nvgpu.mma.sync (%a, %b, %c) {mmaShape = [16, 8, 8], tf32Enabled}
        : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
    %tid = gpu.thread_id x
    %c0 = arith.constant 0 : index
    %v = vector.extract %d[0, 0] : f32 from vector<2x2xf32>
    memref.store %v, %out[%tid, %c0] : memref<128x4xf32>
    gpu.return
  }
}

// -----

gpu.module @kernels {
  // expected-error @+1 {{with nvgpu.mma.sync needs a known one-dimensional block of whole warps to be emulated}}
  gpu.func @unknown_block(%a: vector<4x1xf32>, %b: vector<2x1xf32>, %c: vector<2x2xf32>) kernel {
    %d = nvgpu.mma.sync (%a, %b, %c) {mmaShape = [16, 8, 8], tf32Enabled}
        : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
    gpu.return
  }
}

// -----

gpu.module @kernels {
  gpu.func @half(%a: vector<4x2xf16>, %b: vector<2x2xf16>, %c: vector<2x2xf32>) kernel
      attributes {known_block_size = array<i32: 64, 1, 1>} {
    // expected-error @+1 {{is emulated for mmaShape [16, 8, 8] with f32 operands only}}
    %d = nvgpu.mma.sync (%a, %b, %c) {mmaShape = [16, 8, 16]}
        : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
    gpu.return
  }
}
