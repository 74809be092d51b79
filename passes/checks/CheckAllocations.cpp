//===- CheckAllocations.cpp - Report failed allocations -------------------===//
//
// `moe-check-allocations`: every `memref.alloc` of the entry is followed by
// a `moe.check` that its pointer is not null, so a refused allocation stops
// the entry with a message instead of the code writing through null.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/TensorBuilders.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOECHECKALLOCATIONS
#include "passes/Passes.h.inc"

namespace {

std::string allocationMessage(memref::AllocOp alloc) {
  MemRefType type = alloc.getType();
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "out of memory: cannot allocate ";
  std::optional<int64_t> elementBytes = elementByteSize(type.getElementType());
  if (type.hasStaticShape() && elementBytes) {
    SmallVector<int64_t> factors(type.getShape());
    factors.push_back(*elementBytes);
    if (std::optional<int64_t> bytes = checkedProduct(factors))
      os << *bytes << " bytes ";
  }
  os << "(" << type << ")";
  if (std::string where = sourceLocation(alloc.getLoc()); !where.empty())
    os << " for the op at " << where;
  return text;
}

struct MoECheckAllocationsPass
    : impl::MoECheckAllocationsBase<MoECheckAllocationsPass> {
  void runOnOperation() override {
    SmallVector<memref::AllocOp> allocs;
    getOperation()->walk([&](memref::AllocOp alloc) {
      if (isInEntry(alloc))
        allocs.push_back(alloc);
    });
    OpBuilder b(&getContext());
    for (memref::AllocOp alloc : allocs) {
      // malloc(0) may return null: an empty buffer is never a failure.
      if (llvm::is_contained(alloc.getType().getShape(), 0))
        continue;
      Location loc = alloc.getLoc();
      b.setInsertionPointAfter(alloc);
      Value zero = indexConstant(b, loc, 0);
      Value pointer =
          memref::ExtractAlignedPointerAsIndexOp::create(b, loc, alloc);
      Value failed = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                           pointer, zero);
      for (Value size : alloc.getDynamicSizes())
        failed = arith::AndIOp::create(
            b, loc, failed,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, size,
                                  zero));
      CheckOp::create(b, loc, failed, b.getStringAttr(allocationMessage(alloc)),
                      ValueRange{});
    }
  }
};

} // namespace
} // namespace mlir::moe
