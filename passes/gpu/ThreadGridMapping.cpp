//===- ThreadGridMapping.cpp - Grids of one iteration per thread ----------===//

#include "passes/gpu/ThreadGridMapping.h"
#include "passes/common/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/TransformOps/GPUTransformOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Transform/IR/TransformDialect.h"
#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Dialect/Transform/Transforms/TransformInterpreterUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::moe {

namespace {

/// The transform script: the block loop onto the launch's blocks, then
/// (`{1}`) the thread loops onto its threads.
constexpr llvm::StringLiteral kMappingScript = R"mlir(
module attributes {{transform.with_named_sequence} {{
  transform.named_sequence @__transform_main(
      %launch: !transform.any_op {{transform.consumed}) {{
    %blocks = transform.gpu.map_forall_to_blocks %launch
        grid_dims = [{0}, 1, 1] : (!transform.any_op) -> !transform.any_op
    {1}
    transform.yield
  }
}
)mlir";

/// The thread step of kMappingScript for `{0}` threads (no barrier after:
/// the iterations share nothing, or synchronize themselves).
constexpr llvm::StringLiteral kThreadStep = R"mlir(
    %threads = transform.gpu.map_nested_forall_to_threads %blocks
        block_dims = [{0}, 1, 1] sync_after_distribute = false
        : (!transform.any_op) -> !transform.any_op)mlir";

/// Applies kMappingScript to `launch`, with the thread step where `threads`
/// is set.
LogicalResult applyMapping(gpu::LaunchOp launch, int64_t blocks,
                           std::optional<int64_t> threads) {
  std::string threadStep =
      threads ? llvm::formatv(kThreadStep.data(), *threads).str() : "";
  OwningOpRef<ModuleOp> script = parseSourceString<ModuleOp>(
      llvm::formatv(kMappingScript.data(), blocks, threadStep).str(),
      ParserConfig(launch.getContext()));
  if (!script)
    return launch.emitOpError("could not build its thread mapping");
  auto entry = script->lookupSymbol<transform::NamedSequenceOp>(
      transform::TransformDialect::kTransformEntryPointSymbolName);
  if (failed(transform::applyTransformNamedSequence(
          launch, entry, *script, transform::TransformOptions())))
    return launch.emitOpError("could not map its loops onto blocks")
           << (threads ? " and threads" : "");
  return success();
}

} // namespace

Value buildMappedLoop(OpBuilder &b, Location loc, int64_t n,
                      Attribute mapping) {
  auto forall =
      scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(n)},
                            ValueRange{}, b.getArrayAttr({mapping}));
  b.setInsertionPoint(forall.getBody()->getTerminator());
  return forall.getInductionVar(0);
}

LogicalResult mapLaunchLoops(gpu::LaunchOp launch, int64_t blocks,
                             int64_t threads) {
  return applyMapping(launch, blocks, threads);
}

LogicalResult mapLaunchBlocks(gpu::LaunchOp launch, int64_t blocks) {
  return applyMapping(launch, blocks, std::nullopt);
}

LogicalResult mapThreadGrid(gpu::LaunchOp launch, int64_t blocks,
                            int64_t threads, int64_t iterations,
                            IterationBuilder buildIteration) {
  MLIRContext *context = launch.getContext();
  Location loc = launch.getLoc();
  OpBuilder b(launch.getBody().front().getTerminator());
  Value block = buildMappedLoop(
      b, loc, blocks,
      gpu::GPUBlockMappingAttr::get(context, gpu::MappingId::DimX));
  Value thread = buildMappedLoop(
      b, loc, threads,
      gpu::GPUThreadMappingAttr::get(context, gpu::MappingId::DimX));
  Value index = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, block, indexConstant(b, loc, threads)),
      thread);
  Value inRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, index,
                            indexConstant(b, loc, iterations));
  auto guard = scf::IfOp::create(b, loc, inRange, /*withElse=*/false);
  OpBuilder body = OpBuilder::atBlockBegin(guard.thenBlock());
  buildIteration(body, loc, index);
  return mapLaunchLoops(launch, blocks, threads);
}

void registerThreadGridMappingDialects(DialectRegistry &registry) {
  registry
      .insert<transform::TransformDialect, scf::SCFDialect, gpu::GPUDialect>();
  gpu::registerTransformDialectExtension(registry);
}

} // namespace mlir::moe
