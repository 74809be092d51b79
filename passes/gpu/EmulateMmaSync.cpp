//===- EmulateMmaSync.cpp - Tensor-core kernels on devices without them ---===//
//
// `moe-gpu-emulate-mma-sync`: every `nvgpu.mma.sync` (m16n8k8, f32) of a
// kernel becomes what the warp's tensor cores compute. Where each lane's
// values sit in the warp's matrices comes from upstream's definition of the
// fragment layouts (nvgpu::getLaneIdAndValueIdToOperandCoord, the one the
// NVGPU lowering itself uses; for m16n8k8 .tf32, with g = lane / 4 and
// t = lane % 4: a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4);
// b0 (k t, column g), b1 (k t + 4, g); c0, c1 (g, 2t), (g, 2t + 1), c2, c3
// the same at row g + 8). Each lane stores its A and B values there in its
// warp's 16 x 8 and 8 x 8 matrices in workgroup memory and, after a
// barrier, computes its accumulator values from them. The products are
// exact f32 (tf32 keeps fewer bits), so the portable variant checks the
// fragment indexing of the tensor-core kernels against the reference at
// f32 tolerance, and the layouts themselves are upstream's, not ours.
//
// Kernels must be one-dimensional blocks of a known size, a multiple of
// 32, and reach every mma.sync with all their threads (as mma.sync needs of
// a warp; the emulation's barriers need it of the block).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/gpu/GpuHardware.h"

#include "mlir/Dialect/Affine/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/NVGPU/Utils/MMAUtils.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEGPUEMULATEMMASYNC
#include "passes/Passes.h.inc"

namespace {

/// Whether `mma` is the one shape emulated: m16n8k8 with f32 operands.
bool isEmulated(nvgpu::MmaSyncOp mma) {
  auto a = cast<VectorType>(mma.getMatrixA().getType());
  auto b = cast<VectorType>(mma.getMatrixB().getType());
  auto c = cast<VectorType>(mma.getMatrixC().getType());
  std::array<int64_t, 3> shape = mma.getMmaShapeAsArray();
  return ArrayRef<int64_t>(shape) == ArrayRef<int64_t>{16, 8, 8} &&
         a.getElementType().isF32() && b.getElementType().isF32() &&
         c.getElementType().isF32() &&
         a.getShape() == ArrayRef<int64_t>{4, 1} &&
         b.getShape() == ArrayRef<int64_t>{2, 1} &&
         c.getShape() == ArrayRef<int64_t>{2, 2};
}

/// (row, column) in the warp's matrix of `role` (of `shape`: A is m x k, B
/// n x k, C m x n) of value `value` of `lane`'s fragment.
std::pair<Value, Value> coordinate(ImplicitLocOpBuilder &b,
                                   nvgpu::MatMulOperandRole role,
                                   ArrayRef<int64_t> shape, Value lane,
                                   int64_t value) {
  nvgpu::WarpMatrixInfo info{VectorType::get(shape, b.getF32Type()), role};
  FailureOr<AffineMap> map =
      nvgpu::getLaneIdAndValueIdToOperandCoord(b, b.getLoc(), info);
  assert(succeeded(map) && "f32 fragments have a layout");
  Value id = arith::ConstantIndexOp::create(b, value);
  std::optional<SmallVector<Value, 8>> at =
      affine::expandAffineMap(b, b.getLoc(), *map, ValueRange{lane, id});
  assert(at && at->size() == 2 && "a coordinate of two values");
  return {(*at)[0], (*at)[1]};
}

LogicalResult emulate(gpu::GPUFuncOp kernel) {
  SmallVector<nvgpu::MmaSyncOp> mmas;
  kernel.walk([&](nvgpu::MmaSyncOp mma) { mmas.push_back(mma); });
  if (mmas.empty())
    return success();
  std::optional<ArrayRef<int32_t>> block = kernel.getKnownBlockSize();
  if (!block || (*block)[1] != 1 || (*block)[2] != 1 ||
      (*block)[0] % kWarpSize != 0)
    return kernel.emitOpError("with nvgpu.mma.sync needs a known "
                              "one-dimensional block of whole warps to be "
                              "emulated");
  int64_t warps = (*block)[0] / kWarpSize;
  // The warps' A (16 x 8) and B (8 x 8) matrices.
  ImplicitLocOpBuilder top(kernel.getLoc(), &kernel.getBody().front(),
                           kernel.getBody().front().begin());
  auto matrix = [&](int64_t rows, int64_t columns) -> Value {
    return memref::AllocOp::create(
        top, workgroupMemRefType({warps, rows, columns}, top.getF32Type()));
  };
  Value aMatrix = matrix(16, 8), bMatrix = matrix(8, 8);
  Value thread = gpu::ThreadIdOp::create(top, gpu::Dimension::x);
  auto constant = [&](ImplicitLocOpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  Value warp = arith::DivUIOp::create(top, thread, constant(top, kWarpSize));
  Value lane = arith::RemUIOp::create(top, thread, constant(top, kWarpSize));
  for (nvgpu::MmaSyncOp mma : mmas) {
    if (!isEmulated(mma))
      return mma.emitOpError("is emulated for mmaShape [16, 8, 8] with f32 "
                             "operands only");
    ImplicitLocOpBuilder b(mma.getLoc(), mma);
    auto element = [&](Value vector, int64_t i, int64_t j) -> Value {
      return vector::ExtractOp::create(b, vector, ArrayRef<int64_t>{i, j});
    };
    using nvgpu::MatMulOperandRole;
    // A (m x k = 16 x 8): value v is element [v, 0] of the fragment.
    for (int64_t v = 0; v < 4; ++v) {
      auto [row, k] = coordinate(b, MatMulOperandRole::A, {16, 8}, lane, v);
      memref::StoreOp::create(b, element(mma.getMatrixA(), v, 0), aMatrix,
                              ValueRange{warp, row, k});
    }
    // B, laid out n x k (column-major K x N).
    for (int64_t v = 0; v < 2; ++v) {
      auto [column, k] = coordinate(b, MatMulOperandRole::B, {8, 8}, lane, v);
      memref::StoreOp::create(b, element(mma.getMatrixB(), v, 0), bMatrix,
                              ValueRange{warp, k, column});
    }
    gpu::BarrierOp::create(b);
    // C (m x n = 16 x 8): value v is element [v / 2, v % 2].
    SmallVector<Value> results;
    for (int64_t v = 0; v < 4; ++v) {
      auto [row, column] =
          coordinate(b, MatMulOperandRole::C, {16, 8}, lane, v);
      Value sum = element(mma.getMatrixC(), v / 2, v % 2);
      for (int64_t k = 0; k < 8; ++k) {
        Value kk = constant(b, k);
        Value x = memref::LoadOp::create(b, aMatrix, ValueRange{warp, row, kk});
        Value y =
            memref::LoadOp::create(b, bMatrix, ValueRange{warp, kk, column});
        sum = arith::AddFOp::create(b, sum, arith::MulFOp::create(b, x, y));
      }
      results.push_back(sum);
    }
    gpu::BarrierOp::create(b);
    Value d = vector::FromElementsOp::create(b, mma.getType(), results);
    mma.replaceAllUsesWith(d);
    mma.erase();
  }
  return success();
}

struct MoEGpuEmulateMmaSync
    : impl::MoEGpuEmulateMmaSyncBase<MoEGpuEmulateMmaSync> {
  void runOnOperation() override {
    bool failed = false;
    getOperation()->walk([&](gpu::GPUFuncOp kernel) {
      if (kernel.isKernel() && mlir::failed(emulate(kernel)))
        failed = true;
    });
    if (failed)
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::moe
