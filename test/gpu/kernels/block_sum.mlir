// out[b] = the sum of in[64 b .. 64 b + 64): each workgroup stages its values in
// workgroup memory and halves them with barriers between the steps.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @block_sum(%in: memref<256xf32>, %out: memref<4xf32>) kernel
        attributes {spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [64, 1, 1]>} {
      %shared = memref.alloc() : memref<64xf32, 3>
      %block = gpu.block_id x
      %thread = gpu.thread_id x
      %c0 = arith.constant 0 : index
      %c64 = arith.constant 64 : index
      %base = arith.muli %block, %c64 : index
      %i = arith.addi %base, %thread : index
      %v = memref.load %in[%i] : memref<256xf32>
      memref.store %v, %shared[%thread] : memref<64xf32, 3>
      gpu.barrier
      %c32 = arith.constant 32 : index
      %active32 = arith.cmpi slt, %thread, %c32 : index
      scf.if %active32 {
        %other32 = arith.addi %thread, %c32 : index
        %a32 = memref.load %shared[%thread] : memref<64xf32, 3>
        %b32 = memref.load %shared[%other32] : memref<64xf32, 3>
        %sum32 = arith.addf %a32, %b32 : f32
        memref.store %sum32, %shared[%thread] : memref<64xf32, 3>
      }
      gpu.barrier
      %c16 = arith.constant 16 : index
      %active16 = arith.cmpi slt, %thread, %c16 : index
      scf.if %active16 {
        %other16 = arith.addi %thread, %c16 : index
        %a16 = memref.load %shared[%thread] : memref<64xf32, 3>
        %b16 = memref.load %shared[%other16] : memref<64xf32, 3>
        %sum16 = arith.addf %a16, %b16 : f32
        memref.store %sum16, %shared[%thread] : memref<64xf32, 3>
      }
      gpu.barrier
      %c8 = arith.constant 8 : index
      %active8 = arith.cmpi slt, %thread, %c8 : index
      scf.if %active8 {
        %other8 = arith.addi %thread, %c8 : index
        %a8 = memref.load %shared[%thread] : memref<64xf32, 3>
        %b8 = memref.load %shared[%other8] : memref<64xf32, 3>
        %sum8 = arith.addf %a8, %b8 : f32
        memref.store %sum8, %shared[%thread] : memref<64xf32, 3>
      }
      gpu.barrier
      %c4 = arith.constant 4 : index
      %active4 = arith.cmpi slt, %thread, %c4 : index
      scf.if %active4 {
        %other4 = arith.addi %thread, %c4 : index
        %a4 = memref.load %shared[%thread] : memref<64xf32, 3>
        %b4 = memref.load %shared[%other4] : memref<64xf32, 3>
        %sum4 = arith.addf %a4, %b4 : f32
        memref.store %sum4, %shared[%thread] : memref<64xf32, 3>
      }
      gpu.barrier
      %c2 = arith.constant 2 : index
      %active2 = arith.cmpi slt, %thread, %c2 : index
      scf.if %active2 {
        %other2 = arith.addi %thread, %c2 : index
        %a2 = memref.load %shared[%thread] : memref<64xf32, 3>
        %b2 = memref.load %shared[%other2] : memref<64xf32, 3>
        %sum2 = arith.addf %a2, %b2 : f32
        memref.store %sum2, %shared[%thread] : memref<64xf32, 3>
      }
      gpu.barrier
      %c1 = arith.constant 1 : index
      %active1 = arith.cmpi slt, %thread, %c1 : index
      scf.if %active1 {
        %other1 = arith.addi %thread, %c1 : index
        %a1 = memref.load %shared[%thread] : memref<64xf32, 3>
        %b1 = memref.load %shared[%other1] : memref<64xf32, 3>
        %sum1 = arith.addf %a1, %b1 : f32
        memref.store %sum1, %shared[%thread] : memref<64xf32, 3>
      }
      gpu.barrier
      %first = arith.cmpi eq, %thread, %c0 : index
      scf.if %first {
        %total = memref.load %shared[%c0] : memref<64xf32, 3>
        memref.store %total, %out[%block] : memref<4xf32>
      }
      gpu.return
    }
  }
}
