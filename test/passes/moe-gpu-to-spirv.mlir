// RUN: moe-opt %s --pass-pipeline="builtin.module(spirv-attach-target{ver=v1.0 caps=Addresses,Int64,Int8,Kernel client_api=OpenCL},moe-gpu-to-spirv)" | FileCheck %s

// A kernel as moe-gpu-form-kernels writes it: a view of the workspace (a
// pointer to the shifted byte, cast to the view's elements), a math op (an
// OpenCL extended instruction) and the workgroup size from known_block_size.
// CHECK: spirv.module @{{.*}} Physical64 OpenCL
// CHECK: spirv.func @k(%[[WS:.*]]: !spirv.ptr<!spirv.array<256 x i8>, CrossWorkgroup>
// CHECK-SAME: spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [16, 1, 1]>
// CHECK: %[[FIRST:.*]] = spirv.AccessChain %[[WS]][%{{.*}}]
// CHECK: %[[BYTE:.*]] = spirv.PtrAccessChain %[[FIRST]][%{{.*}}] : !spirv.ptr<i8, CrossWorkgroup>, i64
// CHECK: spirv.Bitcast %[[BYTE]] : !spirv.ptr<i8, CrossWorkgroup> to !spirv.ptr<!spirv.array<8 x f32>, CrossWorkgroup>
// CHECK: spirv.CL.exp
// The launch keeps an empty stand-in of the kernel.
// CHECK: func.func @k(%{{.*}}: memref<256xi8>, %{{.*}}: memref<8xf32>) attributes {gpu.kernel}
module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @k(%ws: memref<256xi8>, %out: memref<8xf32>) kernel attributes {known_block_size = array<i32: 16, 1, 1>} {
      %c64 = arith.constant 64 : index
      %c1 = arith.constant 1 : index
      %t = gpu.thread_id x
      %v = memref.view %ws[%c64][] : memref<256xi8> to memref<8xf32>
      %x = memref.load %v[%c1] : memref<8xf32>
      %e = math.exp %x : f32
      memref.store %e, %out[%t] : memref<8xf32>
      gpu.return
    }
  }
}
