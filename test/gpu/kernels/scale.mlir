// data[i] *= factor for the first n elements, one work-item each: bounds.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%data: memref<1024xf32>, %n: i32, %factor: f32) kernel
        attributes {spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [64, 1, 1]>} {
      %block = gpu.block_id x
      %thread = gpu.thread_id x
      %size = gpu.block_dim x
      %base = arith.muli %block, %size : index
      %i = arith.addi %base, %thread : index
      %limit = arith.index_cast %n : i32 to index
      %inside = arith.cmpi slt, %i, %limit : index
      scf.if %inside {
        %v = memref.load %data[%i] : memref<1024xf32>
        %scaled = arith.mulf %v, %factor : f32
        memref.store %scaled, %data[%i] : memref<1024xf32>
      }
      gpu.return
    }
  }
}
