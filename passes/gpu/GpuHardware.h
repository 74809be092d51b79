//===- GpuHardware.h - What GPU kernels assume of the hardware -*- C++ -*-===//
//
// The GPU passes build kernels around two facts of the hardware: workgroup
// memory is address space 3 (NVVM's shared memory; the Workgroup storage
// class that map-memref-spirv-storage-class gives OpenCL), and an NVIDIA
// warp, which mma.sync spans, has 32 threads.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_GPU_GPUHARDWARE_H
#define MOE_PASSES_GPU_GPUHARDWARE_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::moe {

/// The numeric address space of workgroup memory.
inline constexpr int64_t kWorkgroupMemorySpace = 3;

/// Threads of an NVIDIA warp.
inline constexpr int64_t kWarpSize = 32;

/// A buffer type of `shape` and `elementType` in workgroup memory (identity
/// layout).
inline MemRefType workgroupMemRefType(ArrayRef<int64_t> shape,
                                      Type elementType) {
  Builder b(elementType.getContext());
  return MemRefType::get(shape, elementType, MemRefLayoutAttrInterface(),
                         b.getI64IntegerAttr(kWorkgroupMemorySpace));
}

} // namespace mlir::moe

#endif // MOE_PASSES_GPU_GPUHARDWARE_H
