//===- CpuCodegen.cpp - From level-1 IR to CPU code -----------------------===//

#include "passes/cpu/CpuCodegen.h"

#include "dialect/MoEOps.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"
#include "passes/common/PrivateDirectory.h"
#include "passes/cpu/CpuTarget.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>

namespace mlir::moe {

/// Everything the CPU back end needs registered (the passes once per
/// process, as the pipeline is parsed from text).
void registerCpuCodegenPasses() {
  static std::once_flag passesRegistered;
  std::call_once(passesRegistered, [] {
    registerAllPasses();
    registerMoEPasses();
    registerMoEPipelines();
  });
}

static DialectRegistry cpuCodegenRegistry() {
  registerCpuCodegenPasses();
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  registry.insert<MoEDialect>();
  return registry;
}

ModelContext::ModelContext()
    : context(cpuCodegenRegistry()), diagnostics(sourceMgr, &context) {
  context.printOpOnDiagnostic(false);
}

OwningOpRef<ModuleOp> ModelContext::parse(const std::string &path) {
  return parseSourceFile<ModuleOp>(path, sourceMgr, ParserConfig(&context));
}

/// Whether the tool registered MLIR's pass-manager options (moe-compile
/// does, moe-run does not): applyPassManagerCLOptions fails without them.
static bool passManagerOptionsRegistered() {
  return llvm::cl::getRegisteredOptions().contains("mlir-pass-statistics");
}

LogicalResult lowerToLLVMDialect(ModuleOp module, StringRef planLayout,
                                 StringRef indexChecks, StringRef targetCpu,
                                 int64_t groupsPerCall) {
  PassManager pm(module.getContext());
  // The tool's --mlir-print-ir-*, --mlir-pass-statistics and --mlir-timing.
  if (passManagerOptionsRegistered()) {
    if (failed(applyPassManagerCLOptions(pm)))
      return failure();
    applyDefaultTimingPassManagerCLOptions(pm);
  }
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(buildMoEToCPUPipeline(pm, planLayout, os, indexChecks, targetCpu,
                                   groupsPerCall))) {
    module.emitError() << "the moe-to-cpu pipeline does not parse: " << errors;
    return failure();
  }
  return pm.run(module);
}

/// A target machine for the host's triple and the CPU `cpu` (host or an LLVM
/// CPU name), with that CPU's features.
static std::unique_ptr<llvm::TargetMachine> targetMachine(StringRef cpu,
                                                          std::string &error) {
  std::optional<TargetCpu> target = lookupTargetCpu(cpu);
  if (!target) {
    error = unknownCpuMessage(cpu, "target-cpu");
    return nullptr;
  }
  llvm::Triple triple(llvm::sys::getProcessTriple());
  const llvm::Target *llvmTarget = lookupNativeTarget(triple, error);
  if (!llvmTarget)
    return nullptr;
  llvm::TargetOptions options;
  return std::unique_ptr<llvm::TargetMachine>(llvmTarget->createTargetMachine(
      triple, target->name, target->featureString, options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
}

LogicalResult emitSharedObject(ModuleOp module, llvm::raw_ostream &os,
                               std::string &error, StringRef targetCpu) {
  std::unique_ptr<llvm::TargetMachine> machine =
      targetMachine(targetCpu, error);
  if (!machine)
    return failure();
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "moe");
  if (!llvmModule) {
    error = "translation to LLVM IR failed";
    return failure();
  }
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());
  auto optimize = makeOptimizingTransformer(3, 0, machine.get());
  if (llvm::Error err = optimize(llvmModule.get())) {
    error = llvm::toString(std::move(err));
    return failure();
  }

  // The object file and the linked shared object go to a private directory,
  // so no file of the user's (a NAME.o beside the output, an input) is ever
  // overwritten or removed; only the finished artifact reaches `os`.
  PrivateDirectory dir("moe-compile");
  if (!dir.error().empty()) {
    error = dir.error();
    return failure();
  }
  std::string objectPath = dir.file("model.o");
  std::string sharedPath = dir.file("model.so");
  {
    std::error_code ec;
    llvm::raw_fd_ostream object(objectPath, ec, llvm::sys::fs::OF_None);
    if (ec) {
      error = "cannot write '" + objectPath + "': " + ec.message();
      return failure();
    }
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, object, nullptr,
                                     llvm::CodeGenFileType::ObjectFile)) {
      error = "the target cannot emit object files";
      return failure();
    }
    codegen.run(*llvmModule);
    object.close();
    if (std::error_code ec = object.error()) {
      // Cleared, or the stream aborts the process when it is destroyed.
      object.clear_error();
      error = "cannot write '" + objectPath + "': " + ec.message();
      return failure();
    }
  }
  llvm::ErrorOr<std::string> cc = llvm::sys::findProgramByName("cc");
  if (!cc) {
    error = "no C compiler driver 'cc' on PATH to link the shared object";
    return failure();
  }
  // Self-contained: the code needs only the C library and libm (strided
  // copies were expanded to loops, see moe-expand-strided-copies).
  std::vector<std::string> argStrings = {*cc,        "-shared",  "-o",
                                         sharedPath, objectPath, "-lm"};
  SmallVector<StringRef> args(argStrings.begin(), argStrings.end());
  std::string linkError;
  int rc =
      llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &linkError);
  if (rc != 0) {
    error = "linking the shared object failed: " +
            (linkError.empty()
                 ? "'" + *cc + "' exited with status " + std::to_string(rc)
                 : linkError);
    return failure();
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> shared =
      llvm::MemoryBuffer::getFile(sharedPath);
  if (!shared) {
    error = "cannot read '" + sharedPath + "': " + shared.getError().message();
    return failure();
  }
  os << (*shared)->getBuffer();
  return success();
}

namespace {
class EngineArtifact : public JitArtifact {
public:
  EngineArtifact(std::unique_ptr<ExecutionEngine> engine, const char *signature,
                 EntryFn entry)
      : engine(std::move(engine)), signature(signature), entryFn(entry) {}
  const char *signatureJson() const override { return signature; }
  EntryFn entry() const override { return entryFn; }

private:
  std::unique_ptr<ExecutionEngine> engine;
  const char *signature;
  EntryFn entryFn;
};
} // namespace

std::unique_ptr<JitArtifact> compileJit(ModuleOp module, std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  // The options hold a function_ref: the transformer it refers to must
  // outlive create().
  std::function<llvm::Error(llvm::Module *)> optimize =
      makeOptimizingTransformer(3, 0, nullptr);
  ExecutionEngineOptions options;
  options.transformer = optimize;
  // No debugger or perf notification: the perf listener writes a jitdump
  // file under /tmp/.debug on every run.
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
  auto engine = ExecutionEngine::create(module, options);
  if (!engine) {
    error = llvm::toString(engine.takeError());
    return nullptr;
  }
  auto entry = (*engine)->lookup("moe_entry");
  auto signature = (*engine)->lookup("moe_signature_json");
  if (!entry || !signature) {
    error = "the compiled module lacks moe_entry or moe_signature_json";
    llvm::consumeError(entry.takeError());
    llvm::consumeError(signature.takeError());
    return nullptr;
  }
  return std::make_unique<EngineArtifact>(
      std::move(*engine), reinterpret_cast<const char *>(*signature),
      reinterpret_cast<JitArtifact::EntryFn>(*entry));
}

} // namespace mlir::moe
