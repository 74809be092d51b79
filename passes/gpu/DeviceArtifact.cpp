//===- DeviceArtifact.cpp - GPU artifacts: signature, launches, binary ----===//

#include "passes/gpu/DeviceArtifact.h"
#include "passes/Pipelines.h"
#include "passes/common/PrivateDirectory.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::moe {
namespace {

/// The version of the artifact ABI of GPU artifacts.
constexpr int64_t kDeviceAbiVersion = 6;

/// The bytes of the module's one gpu.binary object.
FailureOr<std::string> kernelBinary(ModuleOp module, std::string &error) {
  SmallVector<gpu::BinaryOp> binaries(module.getOps<gpu::BinaryOp>());
  if (binaries.size() != 1) {
    error = "the GPU pipeline made " + std::to_string(binaries.size()) +
            " kernel binaries, expected one";
    return failure();
  }
  auto object =
      cast<gpu::ObjectAttr>(binaries.front().getObjects().getValue().front());
  return object.getObject().getValue().str();
}

/// SPIR bitcode (what OpenCL implementations such as PoCL build) of SPIR-V:
/// llvm-spirv-15 -r, in a private directory.
FailureOr<std::string> spirBitcode(StringRef spirv, std::string &error) {
  llvm::ErrorOr<std::string> translator =
      llvm::sys::findProgramByName("llvm-spirv-15");
  if (!translator) {
    error = "llvm-spirv-15 is not on PATH (scripts/bootstrap.sh installs it); "
            "--target=opencl needs it to turn SPIR-V into SPIR bitcode";
    return failure();
  }
  PrivateDirectory dir("moe-compile");
  if (!dir.error().empty()) {
    error = dir.error();
    return failure();
  }
  std::string spv = dir.file("kernels.spv"), bc = dir.file("kernels.bc");
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(spv, ec, llvm::sys::fs::OF_None);
    if (!ec) {
      out << spirv;
      out.close();
      ec = out.error();
      // Cleared, or the stream aborts the process when it is destroyed.
      out.clear_error();
    }
    if (ec) {
      error = "cannot write '" + spv + "': " + ec.message();
      return failure();
    }
  }
  std::string message;
  int status =
      llvm::sys::ExecuteAndWait(*translator, {*translator, "-r", spv, "-o", bc},
                                std::nullopt, {}, 0, 0, &message);
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> result =
      llvm::MemoryBuffer::getFile(bc);
  if (status != 0 || !result) {
    error = "llvm-spirv-15 -r failed (status " + std::to_string(status) +
            (message.empty() ? "" : ": " + message) + ")";
    return failure();
  }
  return (*result)->getBuffer().str();
}

/// `const char NAME[] = bytes` (with a terminating zero when `text`).
void emitBytes(OpBuilder &b, Location loc, StringRef name, std::string bytes,
               bool text) {
  if (text)
    bytes.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), bytes.size());
  LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true,
                         LLVM::Linkage::External, name, b.getStringAttr(bytes));
}

} // namespace

LogicalResult lowerToDeviceArtifact(ModuleOp module,
                                    const GPUPipelineOptions &options,
                                    std::string &error) {
  module.getContext()->getOrLoadDialect<LLVM::LLVMDialect>();
  PassManager pm(module.getContext());
  llvm::raw_string_ostream errors(error);
  StringRef target = options.target;
  GPUPipelineOptions artifact = options;
  artifact.format = target == "cuda" ? "fatbin" : "bin";
  if (failed(buildMoEToGPUPipeline(pm, artifact, errors)))
    return failure();
  if (failed(pm.run(module)))
    return failure(); // diagnostics were emitted
  FailureOr<std::string> binary = kernelBinary(module, error);
  if (failed(binary))
    return failure();
  if (target == "opencl") {
    binary = spirBitcode(*binary, error);
    if (failed(binary))
      return failure();
  }
  // The signature: the CPU artifact's schema, run on `target`.
  auto text = [&](StringRef name) -> StringRef {
    auto attr = module->getAttrOfType<StringAttr>(name);
    return attr ? attr.getValue() : StringRef();
  };
  llvm::Expected<llvm::json::Value> signature =
      llvm::json::parse(text(kSignatureAttrName));
  llvm::Expected<llvm::json::Value> launches =
      llvm::json::parse(text(kLaunchesAttrName));
  auto workspace = module->getAttrOfType<IntegerAttr>(kWorkspaceBytesAttrName);
  if (!signature || !launches || !workspace || !signature->getAsObject() ||
      !launches->getAsArray()) {
    if (!signature)
      llvm::consumeError(signature.takeError());
    if (!launches)
      llvm::consumeError(launches.takeError());
    error = "the GPU pipeline left no signature, launches or workspace size";
    return failure();
  }
  llvm::json::Object &object = *signature->getAsObject();
  object["abi"] = kDeviceAbiVersion;
  object["checks"] = llvm::json::Array();
  object["device"] = target.str();
  if (target == "cuda")
    object["arch"] = options.arch;
  object["launches"] = std::move(*launches);
  object["workspace_bytes"] = workspace.getInt();
  std::string json;
  llvm::raw_string_ostream os(json);
  os << llvm::json::Value(std::move(*signature));

  // The module becomes the artifact's data.
  Location loc = module.getLoc();
  module.getBody()->clear();
  for (NamedAttribute attr : llvm::to_vector(module->getAttrs()))
    if (attr.getName() != SymbolTable::getSymbolAttrName())
      module->removeAttr(attr.getName());
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  emitBytes(b, loc, "moe_signature_json", json, /*text=*/true);
  emitBytes(b, loc, "moe_device_binary", *binary, /*text=*/false);
  LLVM::GlobalOp::create(b, loc, b.getI64Type(), /*isConstant=*/true,
                         LLVM::Linkage::External, "moe_device_binary_size",
                         b.getI64IntegerAttr(binary->size()));
  return success();
}

} // namespace mlir::moe
