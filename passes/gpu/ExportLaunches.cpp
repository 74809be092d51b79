//===- ExportLaunches.cpp - The entry's kernel launches as data -----------===//
//
// `moe-gpu-export-launches`: after `moe-gpu-form-kernels` and
// `gpu-kernel-outlining` the entry is a list of `gpu.launch_func` ops with
// constant sizes whose operands are the entry's arguments and constants.
// This pass records that list as JSON in the module attribute
// `moe.launches`, the host program a runtime (or a test) carries out:
//
//   [{"kernel": "name", "grid": [x, y, z], "block": [x, y, z],
//     "args": [{"arg": 0}, {"i64": 5}, {"f32": 0.5}, ...]}, ...]
//
// `{"arg": n}` is the entry's argument n (a device buffer; the last one is
// the workspace), scalars are constants of the named type (index as i64).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/JSON.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPUEXPORTLAUNCHES
#include "passes/Passes.h.inc"

namespace {

/// `value` as a launch argument, or None when it is neither an argument of
/// `entry` nor a constant.
std::optional<llvm::json::Value> launchArgument(func::FuncOp entry,
                                                Value value) {
  if (auto arg = dyn_cast<BlockArgument>(value))
    if (arg.getOwner() == &entry.getBody().front())
      return llvm::json::Object{{"arg", int64_t(arg.getArgNumber())}};
  Attribute constant;
  if (!matchPattern(value, m_Constant(&constant)))
    return std::nullopt;
  if (auto integer = dyn_cast<IntegerAttr>(constant)) {
    Type type = integer.getType();
    std::string kind = type.isIndex()
                           ? "i64"
                           : "i" + std::to_string(type.getIntOrFloatBitWidth());
    return llvm::json::Object{{kind, integer.getValue().getSExtValue()}};
  }
  if (auto real = dyn_cast<FloatAttr>(constant))
    return llvm::json::Object{
        {"f" + std::to_string(real.getType().getIntOrFloatBitWidth()),
         real.getValueAsDouble()}};
  return std::nullopt;
}

struct MoEGpuExportLaunches
    : impl::MoEGpuExportLaunchesBase<MoEGpuExportLaunches> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp entry = preparedEntry(module);
    if (!entry) {
      module.emitError("moe-gpu-export-launches needs a prepared entry");
      return signalPassFailure();
    }
    // One gpu.module for every kernel (outlining makes one each): one
    // binary for the runtime to load.
    SmallVector<gpu::GPUModuleOp> modules(module.getOps<gpu::GPUModuleOp>());
    if (modules.size() > 1) {
      gpu::GPUModuleOp kept = modules.front();
      SymbolTable keptSymbols(kept);
      // (module, kernel) -> the kernel's name in the kept module.
      llvm::DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> moved;
      for (gpu::GPUModuleOp other : llvm::drop_begin(modules)) {
        for (Operation &op :
             llvm::make_early_inc_range(other.getBody()->getOperations())) {
          auto func = dyn_cast<gpu::GPUFuncOp>(op);
          if (!func)
            continue;
          StringAttr name = func.getNameAttr();
          func->remove();
          moved[{other.getNameAttr(), name}] = keptSymbols.insert(func);
        }
        other.erase();
      }
      entry.walk([&](gpu::LaunchFuncOp launch) {
        auto it =
            moved.find({launch.getKernelModuleName(), launch.getKernelName()});
        if (it == moved.end())
          return;
        launch.setKernelAttr(SymbolRefAttr::get(
            kept.getNameAttr(), {FlatSymbolRefAttr::get(it->second)}));
      });
    }
    llvm::json::Array launches;
    for (Operation &op : entry.getBody().front().without_terminator()) {
      auto launch = dyn_cast<gpu::LaunchFuncOp>(op);
      if (!launch) {
        if (isMemoryEffectFree(&op) && op.getNumRegions() == 0)
          continue;
        op.emitOpError("is neither a kernel launch nor a constant; the "
                       "entry cannot be exported as launches");
        return signalPassFailure();
      }
      auto sizes =
          [&](gpu::KernelDim3 dims) -> std::optional<llvm::json::Array> {
        llvm::json::Array result;
        for (Value v : {dims.x, dims.y, dims.z}) {
          std::optional<int64_t> c = getConstantIntValue(v);
          if (!c)
            return std::nullopt;
          result.push_back(*c);
        }
        return result;
      };
      std::optional<llvm::json::Array> grid = sizes(
                                           launch.getGridSizeOperandValues()),
                                       block = sizes(
                                           launch.getBlockSizeOperandValues());
      if (!grid || !block) {
        launch.emitOpError("has sizes that are not constants");
        return signalPassFailure();
      }
      llvm::json::Array args;
      for (Value operand : launch.getKernelOperands()) {
        std::optional<llvm::json::Value> arg = launchArgument(entry, operand);
        if (!arg) {
          launch.emitOpError("passes a value that is neither an argument of "
                             "the entry nor a constant");
          return signalPassFailure();
        }
        args.push_back(std::move(*arg));
      }
      launches.push_back(
          llvm::json::Object{{"kernel", launch.getKernelName().getValue()},
                             {"grid", std::move(*grid)},
                             {"block", std::move(*block)},
                             {"args", std::move(args)}});
    }
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(launches));
    module->setAttr(kLaunchesAttrName, StringAttr::get(&getContext(), text));
  }
};

} // namespace
} // namespace mlir::moe
