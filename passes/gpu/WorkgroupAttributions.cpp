//===- WorkgroupAttributions.cpp - Workgroup memory for NVVM kernels ------===//
//
// `moe-gpu-workgroup-attributions`: kernels keep their workgroup memory as
// `memref.alloc`s in address space 3, the form the SPIR-V path needs
// (convert-gpu-to-spirv rejects workgroup attributions). On the NVVM path an
// alloc would become a per-thread `malloc`; this pass turns each into a
// workgroup attribution of the kernel, which the NVVM lowering places in
// shared memory.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/gpu/GpuHardware.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPUWORKGROUPATTRIBUTIONS
#include "passes/Passes.h.inc"

namespace {

/// Whether `type` lives in workgroup memory (address space 3, written as
/// the integer or as #gpu.address_space<workgroup>).
bool isWorkgroupMemory(MemRefType type) {
  Attribute space = type.getMemorySpace();
  if (auto integer = dyn_cast_or_null<IntegerAttr>(space))
    return integer.getInt() == kWorkgroupMemorySpace;
  if (auto gpuSpace = dyn_cast_or_null<gpu::AddressSpaceAttr>(space))
    return gpuSpace.getValue() == gpu::AddressSpace::Workgroup;
  return false;
}

struct MoEGpuWorkgroupAttributionsPass
    : impl::MoEGpuWorkgroupAttributionsBase<MoEGpuWorkgroupAttributionsPass> {
  void runOnOperation() override {
    bool failed = false;
    getOperation()->walk([&](gpu::GPUFuncOp kernel) {
      SmallVector<memref::AllocOp> allocs;
      kernel.walk([&](memref::AllocOp alloc) {
        if (isWorkgroupMemory(alloc.getType()))
          allocs.push_back(alloc);
      });
      for (memref::AllocOp alloc : allocs) {
        if (alloc->getBlock() != &kernel.getBody().front() ||
            !alloc.getType().hasStaticShape() ||
            !alloc.getType().getLayout().isIdentity()) {
          alloc.emitError()
              << "workgroup memory must be allocated with a static shape and "
                 "identity layout in the kernel's entry block, got "
              << alloc.getType();
          failed = true;
          continue;
        }
        BlockArgument memory =
            kernel.addWorkgroupAttribution(alloc.getType(), alloc.getLoc());
        for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
          if (isa<memref::DeallocOp>(user))
            user->erase();
        alloc.replaceAllUsesWith(memory);
        alloc.erase();
      }
    });
    if (failed)
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
