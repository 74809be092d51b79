//===- LowerGridLaunches.cpp - Grid launches to executor calls ------------===//
//
// `moe-lower-grid-launches` (in the LLVM dialect, after convert-func-to-llvm):
// a call of a grid's launch declaration (moe-cpu-outline-workgroups),
//
//   llvm.call @l1_grid0(%executor, %count, %capture0, %capture1, ...)
//
// becomes: the captures stored in a record on the stack, and
//
//   executor->run_grid(executor->context, count, l1_workgroup0_thunk, &record)
//
// where the thunk `void (void *record, int64_t id)` loads the captures and
// calls the workgroup function (runtime/moe_executor.h,
// docs/artifact-abi.md). The declarations are then removed.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOELOWERGRIDLAUNCHES
#include "passes/Passes.h.inc"

namespace {

/// `void thunk(ptr record, i64 id) { workgroup(id, record->fields...); }`
LLVM::LLVMFuncOp buildThunk(OpBuilder &b, LLVM::LLVMFuncOp workgroup,
                            LLVM::LLVMStructType record) {
  MLIRContext *context = b.getContext();
  Location loc = workgroup.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  auto type =
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context), {ptr, i64});
  auto thunk =
      LLVM::LLVMFuncOp::create(b, loc, (workgroup.getName() + "_thunk").str(),
                               type, LLVM::Linkage::Internal);
  OpBuilder::InsertionGuard guard(b);
  Block *body = thunk.addEntryBlock(b);
  b.setInsertionPointToStart(body);
  SmallVector<Value> args = {body->getArgument(1)};
  for (auto [i, field] : llvm::enumerate(record.getBody())) {
    Value at =
        LLVM::GEPOp::create(b, loc, ptr, record, body->getArgument(0),
                            ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    args.push_back(LLVM::LoadOp::create(b, loc, field, at));
  }
  LLVM::CallOp::create(b, loc, workgroup, args);
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return thunk;
}

struct MoELowerGridLaunchesPass
    : impl::MoELowerGridLaunchesBase<MoELowerGridLaunchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(context);
    auto i64 = IntegerType::get(context, 64);
    // struct moe_executor { void *context; void (*run_grid)(...); }
    auto executorType = LLVM::LLVMStructType::getLiteral(context, {ptr, ptr});
    auto runGridType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(context), {ptr, i64, ptr, ptr});

    SmallVector<LLVM::LLVMFuncOp> launches;
    llvm::DenseMap<StringAttr, SmallVector<Operation *>> users;
    for (auto func : module.getOps<LLVM::LLVMFuncOp>())
      if (func->hasAttr(kGridWorkgroupAttrName)) {
        launches.push_back(func);
        users[func.getSymNameAttr()];
      }
    // One symbol table and one walk for every launch: a model has hundreds.
    SymbolTable symbols(module);
    if (std::optional<SymbolTable::UseRange> uses =
            SymbolTable::getSymbolUses(&module.getBodyRegion())) {
      for (const SymbolTable::SymbolUse &use : *uses) {
        auto found = users.find(use.getSymbolRef().getRootReference());
        if (found != users.end())
          found->second.push_back(use.getUser());
      }
    }
    OpBuilder b(context);
    // One thunk per workgroup, which several grids may launch
    // (moe-cpu-merge-workgroups).
    llvm::DenseMap<Operation *, LLVM::LLVMFuncOp> thunks;
    for (LLVM::LLVMFuncOp launch : launches) {
      auto name =
          launch->getAttrOfType<FlatSymbolRefAttr>(kGridWorkgroupAttrName);
      auto workgroup =
          name ? symbols.lookup<LLVM::LLVMFuncOp>(name.getAttr()) : nullptr;
      if (!workgroup) {
        launch.emitError() << "the workgroup function of this grid is "
                              "missing; convert to the LLVM dialect first";
        return signalPassFailure();
      }
      ArrayRef<Type> params = launch.getFunctionType().getParams();
      auto record =
          LLVM::LLVMStructType::getLiteral(context, params.drop_front(2));
      LLVM::LLVMFuncOp &thunk = thunks[workgroup];
      if (!thunk) {
        b.setInsertionPointAfter(workgroup);
        thunk = buildThunk(b, workgroup, record);
      }

      SmallVector<LLVM::CallOp> calls;
      for (Operation *user : users[launch.getSymNameAttr()]) {
        auto call = dyn_cast<LLVM::CallOp>(user);
        if (!call) {
          user->emitError() << "a grid launch may only be called";
          return signalPassFailure();
        }
        calls.push_back(call);
      }
      for (LLVM::CallOp call : calls) {
        Location loc = call.getLoc();
        // The record lives in the caller's frame (allocated once, at its
        // entry block, so loops around the launch do not grow the stack).
        auto caller = call->getParentOfType<LLVM::LLVMFuncOp>();
        b.setInsertionPointToStart(&caller.getBody().front());
        Value one = LLVM::ConstantOp::create(b, loc, i64, 1);
        Value storage = LLVM::AllocaOp::create(b, loc, ptr, record, one);
        b.setInsertionPoint(call);
        for (auto [i, value] :
             llvm::enumerate(call.getArgOperands().drop_front(2))) {
          Value at = LLVM::GEPOp::create(
              b, loc, ptr, record, storage,
              ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
          LLVM::StoreOp::create(b, loc, value, at);
        }
        Value executor = call.getArgOperands()[0];
        auto field = [&](int32_t index) -> Value {
          Value at = LLVM::GEPOp::create(b, loc, ptr, executorType, executor,
                                         ArrayRef<LLVM::GEPArg>{0, index});
          return LLVM::LoadOp::create(b, loc, ptr, at);
        };
        Value runtimeContext = field(0);
        Value runGrid = field(1);
        Value thunkAddress =
            LLVM::AddressOfOp::create(b, loc, ptr, thunk.getName());
        SmallVector<Value> operands = {runGrid, runtimeContext,
                                       call.getArgOperands()[1], thunkAddress,
                                       storage};
        LLVM::CallOp::create(b, loc, runGridType, operands);
        call.erase();
      }
      launch.erase();
    }
  }
};

} // namespace
} // namespace mlir::moe
