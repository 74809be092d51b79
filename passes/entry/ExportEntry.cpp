//===- ExportEntry.cpp - The artifact ABI of a compiled layer -------------===//
//
// A compiled artifact exposes one entry function through a fixed C ABI
// (docs/artifact-abi.md): `void moe_entry(void **args)`, whose `args[i]`
// point to strided memref descriptors of the arguments and then of the
// caller-allocated results, and `const char moe_signature_json[]`, which
// names every argument and result with its role, dtype and shape.
//
// `moe-prepare-entry` runs on tensors, before bufferization: it picks the
// entry, records its signature as a module attribute and asks for the C
// interface. `moe-emit-entry` runs after the conversion to the LLVM dialect
// and emits the two symbols; the signature it emits also names the CPU the
// code is generated for (its `target-cpu` option) with the features the
// runtime checks.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/cpu/CpuTarget.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEPREPAREENTRY
#define GEN_PASS_DEF_MOEEMITENTRY
#include "passes/Passes.h.inc"

namespace {

/// The runtime's name of an element type ("f32", "bf16", "i64").
FailureOr<std::string> dtypeName(Type type) {
  if (type.isF32())
    return std::string("f32");
  if (type.isF16())
    return std::string("f16");
  if (type.isBF16())
    return std::string("bf16");
  if (type.isF64())
    return std::string("f64");
  if (auto integer = dyn_cast<IntegerType>(type)) {
    if (integer.getWidth() == 1)
      return std::string("bool");
    if (llvm::is_contained({8u, 16u, 32u, 64u}, integer.getWidth()))
      return (integer.isUnsigned() ? "u" : "i") +
             std::to_string(integer.getWidth());
  }
  return failure();
}

/// `{"name": ..., "role": ..., "dtype": ..., "shape": [...]}` of a tensor.
FailureOr<llvm::json::Object> describe(Location loc, Type type, StringRef name,
                                       StringRef role, StringRef what) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return emitError(loc) << what << " must be a tensor of static shape, got "
                          << type;
  FailureOr<std::string> dtype = dtypeName(tensor.getElementType());
  if (failed(dtype))
    return emitError(loc) << what << " has element type "
                          << tensor.getElementType()
                          << ", which the runtime cannot hold";
  llvm::json::Array shape;
  for (int64_t dim : tensor.getShape())
    shape.push_back(dim);
  llvm::json::Object object{
      {"name", name.str()}, {"dtype", *dtype}, {"shape", std::move(shape)}};
  if (!role.empty())
    object["role"] = role.str();
  return object;
}

struct MoEPrepareEntryPass : impl::MoEPrepareEntryBase<MoEPrepareEntryPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> entries;
    for (auto func : module.getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        entries.push_back(func);
    if (entries.size() != 1) {
      InFlightDiagnostic diag = module.emitError()
                                << "a compiled module needs exactly one public "
                                   "function with a body (its entry), found "
                                << entries.size();
      for (func::FuncOp func : entries)
        diag.attachNote(func.getLoc())
            << "public function '" << func.getSymName() << "'";
      return signalPassFailure();
    }
    func::FuncOp entry = entries.front();
    if (failed(recordSignature(module, entry)))
      return signalPassFailure();
    entry->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                   UnitAttr::get(&getContext()));
  }

  LogicalResult recordSignature(ModuleOp module, func::FuncOp entry) {
    llvm::json::Array args, results;
    // A per-group tensor's shape is one group's rows (moe-specialize-groups
    // compiled the entry for `groupsPerCall` groups).
    int64_t groupsPerCall = 1;
    if (auto perCall = entry->getAttrOfType<IntegerAttr>(
            MoEDialect::kGroupsPerCallAttrName))
      groupsPerCall = perCall.getInt();
    auto markPerGroup = [&](llvm::json::Object &spec) {
      spec["per_group"] = true;
      llvm::json::Array *shape = spec.getArray("shape");
      (*shape)[0] = *(*shape)[0].getAsInteger() / groupsPerCall;
    };
    llvm::StringSet<> names;
    auto claim = [&](Location loc, StringRef name) -> LogicalResult {
      if (names.insert(name).second)
        return success();
      return emitError(loc) << "two tensors of the entry are named '" << name
                            << "'; names must be unique";
    };
    for (unsigned i = 0, e = entry.getNumArguments(); i < e; ++i) {
      Location loc = entry.getArgument(i).getLoc();
      std::string name = "arg" + std::to_string(i);
      // The first argument is the input by default, the rest weights.
      std::string role = i == 0 ? "input" : "weight";
      if (auto attr = entry.getArgAttrOfType<StringAttr>(
              i, MoEDialect::kInputAttrName)) {
        name = attr.getValue().str();
        role = "input";
      } else if (auto attr = entry.getArgAttrOfType<StringAttr>(
                     i, MoEDialect::kWeightAttrName)) {
        name = attr.getValue().str();
        role = "weight";
      }
      FailureOr<llvm::json::Object> arg =
          describe(loc, entry.getArgument(i).getType(), name, role,
                   "argument '" + name + "'");
      if (failed(arg) || failed(claim(loc, name)))
        return failure();
      if (entry.getArgAttr(i, MoEDialect::kPerGroupAttrName))
        markPerGroup(*arg);
      entry.removeArgAttr(i, MoEDialect::kPerGroupAttrName);
      args.push_back(std::move(*arg));
      entry.removeArgAttr(i, MoEDialect::kInputAttrName);
      entry.removeArgAttr(i, MoEDialect::kWeightAttrName);
    }
    for (unsigned i = 0, e = entry.getNumResults(); i < e; ++i) {
      std::string name = "result" + std::to_string(i);
      if (auto attr = entry.getResultAttrOfType<StringAttr>(
              i, MoEDialect::kOutputAttrName))
        name = attr.getValue().str();
      FailureOr<llvm::json::Object> result =
          describe(entry.getLoc(), entry.getResultTypes()[i], name, "",
                   "result '" + name + "'");
      if (failed(result) || failed(claim(entry.getLoc(), name)))
        return failure();
      if (entry.getResultAttr(i, MoEDialect::kPerGroupAttrName))
        markPerGroup(*result);
      entry.removeResultAttr(
          i, StringAttr::get(&getContext(), MoEDialect::kPerGroupAttrName));
      results.push_back(std::move(*result));
      entry.removeResultAttr(
          i, StringAttr::get(&getContext(), MoEDialect::kOutputAttrName));
    }
    llvm::json::Object signature{{"entry", entry.getSymName().str()},
                                 {"args", std::move(args)},
                                 {"results", std::move(results)}};
    if (auto perCall = entry->getAttrOfType<IntegerAttr>(
            MoEDialect::kGroupsPerCallAttrName)) {
      signature["groups_per_call"] = perCall.getInt();
      entry->removeAttr(MoEDialect::kGroupsPerCallAttrName);
    }
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(signature));
    module->setAttr(kSignatureAttrName, StringAttr::get(&getContext(), text));
    module->setAttr(kEntryAttrName,
                    FlatSymbolRefAttr::get(entry.getSymNameAttr()));
    return success();
  }
};

struct MoEEmitEntryPass : impl::MoEEmitEntryBase<MoEEmitEntryPass> {
  using MoEEmitEntryBase::MoEEmitEntryBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto signature = module->getAttrOfType<StringAttr>(kSignatureAttrName);
    auto entryName = module->getAttrOfType<FlatSymbolRefAttr>(kEntryAttrName);
    if (!signature || !entryName) {
      module.emitError() << "no entry was prepared; run moe-prepare-entry "
                            "before bufferization";
      return signalPassFailure();
    }
    std::string wrapperName = ("_mlir_ciface_" + entryName.getValue()).str();
    auto wrapper = module.lookupSymbol<LLVM::LLVMFuncOp>(wrapperName);
    if (!wrapper) {
      module.emitError() << "the entry's C interface '" << wrapperName
                         << "' is missing; convert to the LLVM dialect first";
      return signalPassFailure();
    }
    MLIRContext *context = &getContext();
    Location loc = wrapper.getLoc();
    // The entry's own code is glue and routing: the work runs in its grids'
    // workgroups. Optimized for size, LLVM spends a fifth of the time on it
    // (a 12-block model: 30 s -> 6 s) at no measurable cost.
    if (auto body = module.lookupSymbol<LLVM::LLVMFuncOp>(entryName.getAttr()))
      body->setAttr(
          "passthrough",
          ArrayAttr::get(context, {StringAttr::get(context, "optsize")}));
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto ptr = LLVM::LLVMPointerType::get(context);

    // const char moe_signature_json[] = "...";
    if (module->hasAttr(kExecutorAttrName) &&
        !module->hasAttr(kChecksAttrName)) {
      module.emitError() << "the entry takes an executor (ABI version 3) but "
                            "no status record; run moe-lower-checks";
      return signalPassFailure();
    }
    std::optional<TargetCpu> cpu = lookupTargetCpu(targetCpu);
    if (!cpu) {
      module.emitError() << unknownCpuMessage(targetCpu, "target-cpu");
      return signalPassFailure();
    }
    llvm::Expected<llvm::json::Value> parsed =
        llvm::json::parse(signature.getValue());
    llvm::json::Object *object = parsed ? parsed->getAsObject() : nullptr;
    if (!object) {
      llvm::consumeError(parsed.takeError());
      module.emitError() << "the recorded signature is not a JSON object";
      return signalPassFailure();
    }
    if (auto checks = module->getAttrOfType<ArrayAttr>(kChecksAttrName)) {
      // ABI version 2: the entry takes the status record after its results,
      // and the signature lists the messages of its checks.
      llvm::json::Array messages;
      for (StringAttr message : checks.getAsRange<StringAttr>())
        messages.push_back(message.getValue().str());
      // ABI version 3: the executor of its grids follows the status record.
      // ABI version 4: weights passed packed in strips (their `strips`).
      // ABI version 5: tensors of every group, the entry called per group
      // (their `per_group`).
      bool packed = false, perGroup = false;
      for (StringRef list : {"args", "results"})
        if (const llvm::json::Array *specs = object->getArray(list))
          for (const llvm::json::Value &value : *specs)
            if (const llvm::json::Object *spec = value.getAsObject()) {
              packed |= spec->get("strips") != nullptr;
              perGroup |= spec->get("per_group") != nullptr;
            }
      (*object)["abi"] = perGroup                             ? 5
                         : packed                             ? 4
                         : module->hasAttr(kExecutorAttrName) ? 3
                                                              : 2;
      (*object)["checks"] = std::move(messages);
      module->removeAttr(kChecksAttrName);
      module->removeAttr(kExecutorAttrName);
    }
    // The CPU the code is generated for and those of its features that the
    // runtime checks before it runs the code.
    llvm::json::Array features;
    for (std::string &feature : checkedCpuFeatures(*cpu))
      features.push_back(std::move(feature));
    (*object)["cpu"] = llvm::json::Object{{"name", cpu->name},
                                          {"features", std::move(features)}};
    (*object)["device"] = "cpu";
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(*object));
    text.push_back('\0');
    auto arrayType =
        LLVM::LLVMArrayType::get(IntegerType::get(context, 8), text.size());
    LLVM::GlobalOp::create(b, loc, arrayType, /*isConstant=*/true,
                           LLVM::Linkage::External, "moe_signature_json",
                           b.getStringAttr(text));

    // void moe_entry(void **args) { ciface(args[0], args[1], ...); }
    auto entryType =
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context), {ptr});
    auto entry = LLVM::LLVMFuncOp::create(b, loc, "moe_entry", entryType);
    Block *body = entry.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    SmallVector<Value> descriptors;
    for (unsigned i = 0, e = wrapper.getNumArguments(); i < e; ++i) {
      Value slot = LLVM::GEPOp::create(b, loc, ptr, ptr, body->getArgument(0),
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
      descriptors.push_back(LLVM::LoadOp::create(b, loc, ptr, slot));
    }
    LLVM::CallOp::create(b, loc, wrapper, descriptors);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    module->removeAttr(kSignatureAttrName);
    module->removeAttr(kEntryAttrName);
  }
};

} // namespace

func::FuncOp preparedEntry(ModuleOp module) {
  auto name = module->getAttrOfType<FlatSymbolRefAttr>(kEntryAttrName);
  return name ? module.lookupSymbol<func::FuncOp>(name.getAttr()) : nullptr;
}

bool isInEntry(Operation *op) {
  auto func = isa<func::FuncOp>(op) ? cast<func::FuncOp>(op)
                                    : op->getParentOfType<func::FuncOp>();
  auto module = op->getParentOfType<ModuleOp>();
  if (!func || !module)
    return false;
  func::FuncOp entry = preparedEntry(module);
  return !entry || entry == func || isWorkgroup(func);
}

std::string sourceLocation(Location loc) {
  std::string text;
  loc->walk([&](Location inner) {
    auto file = dyn_cast<FileLineColLoc>(inner);
    if (!file)
      return WalkResult::advance();
    text = (file.getFilename().strref() + ":" + Twine(file.getLine()) + ":" +
            Twine(file.getColumn()))
               .str();
    return WalkResult::interrupt();
  });
  return text;
}

std::string describeEntryArgument(ModuleOp module, unsigned index) {
  std::string fallback = "argument #" + std::to_string(index);
  auto signature = module->getAttrOfType<StringAttr>(kSignatureAttrName);
  if (!signature)
    return fallback;
  llvm::Expected<llvm::json::Value> parsed =
      llvm::json::parse(signature.getValue());
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return fallback;
  }
  const llvm::json::Object *object = parsed->getAsObject();
  const llvm::json::Array *args = object ? object->getArray("args") : nullptr;
  const llvm::json::Object *arg =
      args && index < args->size() ? (*args)[index].getAsObject() : nullptr;
  std::optional<StringRef> name = arg ? arg->getString("name") : std::nullopt;
  std::optional<StringRef> role = arg ? arg->getString("role") : std::nullopt;
  if (!name || !role)
    return fallback;
  return (*role + " '" + *name + "'").str();
}

} // namespace mlir::moe
