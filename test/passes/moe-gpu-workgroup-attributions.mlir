// RUN: moe-opt %s --split-input-file --verify-diagnostics --moe-gpu-workgroup-attributions | FileCheck %s

// A workgroup-memory alloc (address space 3, numeric or #gpu.address_space)
// becomes a workgroup attribution; its dealloc goes; other allocs stay.
// CHECK-LABEL: gpu.func @reduce
// CHECK-SAME: workgroup(%[[A:.*]] : memref<64xf32, 3>, %[[B:.*]] : memref<8xi32, #gpu.address_space<workgroup>>)
// CHECK-NOT: memref.alloc() : memref<64xf32, 3>
// CHECK: %[[PRIVATE:.*]] = memref.alloc() : memref<4xf32>
// CHECK: memref.store %{{.*}}, %[[A]][%{{.*}}] : memref<64xf32, 3>
// CHECK: memref.store %{{.*}}, %[[B]][%{{.*}}]
// CHECK-NOT: memref.dealloc %[[A]]
// CHECK: memref.dealloc %[[PRIVATE]]
gpu.module @kernels {
  gpu.func @reduce(%in: memref<64xf32>) kernel {
    %shared = memref.alloc() : memref<64xf32, 3>
    %flags = memref.alloc() : memref<8xi32, #gpu.address_space<workgroup>>
    %private = memref.alloc() : memref<4xf32>
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : i32
    %v = memref.load %in[%c0] : memref<64xf32>
    memref.store %v, %shared[%c0] : memref<64xf32, 3>
    memref.store %c1, %flags[%c0] : memref<8xi32, #gpu.address_space<workgroup>>
    memref.store %v, %private[%c0] : memref<4xf32>
    memref.dealloc %shared : memref<64xf32, 3>
    memref.dealloc %private : memref<4xf32>
    gpu.return
  }
}

// -----

gpu.module @kernels {
  gpu.func @in_a_branch(%flag: i1) kernel {
    scf.if %flag {
      // expected-error @below {{workgroup memory must be allocated with a static shape and identity layout in the kernel's entry block, got 'memref<64xf32, 3>'}}
      %shared = memref.alloc() : memref<64xf32, 3>
    }
    gpu.return
  }
}

// -----

gpu.module @kernels {
  gpu.func @dynamic(%n: index) kernel {
    // expected-error @below {{workgroup memory must be allocated with a static shape}}
    %shared = memref.alloc(%n) : memref<?xf32, 3>
    gpu.return
  }
}
