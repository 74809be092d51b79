// RUN: moe-opt %s --moe-gpu-form-kernels='threads=32 single-block-threads=64' --gpu-kernel-outlining --moe-gpu-export-launches | FileCheck %s

// Two launches outlined into two gpu.modules become one module of kernels;
// the launches are recorded in order with their sizes and arguments (the
// entry's arguments by number, the workspace last; constants by type): a
// grid of 32-thread blocks, then a launch of one block of 64 threads.
// CHECK: module attributes {gpu.container_module, moe.entry = @f,
// CHECK-SAME: moe.launches = "[{\22args\22:[{\22arg\22:2},{\22arg\22:0}],\22block\22:[32,1,1],\22grid\22:[4,1,1],\22kernel\22:\22f_kernel\22},{\22args\22:[{\22arg\22:2},{\22arg\22:1}],\22block\22:[64,1,1],\22grid\22:[1,1,1],\22kernel\22:\22f_kernel_0\22}]"
// CHECK-SAME: moe.workspace_bytes = 448 : i64
// CHECK: gpu.launch_func @f_kernel::@f_kernel
// CHECK: gpu.launch_func @f_kernel::@f_kernel_0
// CHECK: gpu.module @f_kernel {
// CHECK: gpu.func @f_kernel(
// CHECK: gpu.func @f_kernel_0(
// CHECK-NOT: gpu.module
module attributes {moe.entry = @f} {
  func.func @f(%x: memref<100xf32>, %sum: memref<1xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c100 = arith.constant 100 : index
    %t = memref.alloc() : memref<100xf32>
    scf.parallel (%i) = (%c0) to (%c100) step (%c1) {
      %v = memref.load %x[%i] : memref<100xf32>
      memref.store %v, %t[%i] : memref<100xf32>
      scf.reduce
    }
    scf.for %i = %c0 to %c100 step %c1 {
      %v = memref.load %t[%i] : memref<100xf32>
      %s = memref.load %sum[%c0] : memref<1xf32>
      %n = arith.addf %s, %v : f32
      memref.store %n, %sum[%c0] : memref<1xf32>
    }
    return
  }
}
