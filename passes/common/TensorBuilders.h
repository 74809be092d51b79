//===- TensorBuilders.h - Small linalg/tensor building blocks ---*- C++ -*-===//
//
// The lowerings build the same few shapes of computation over and over:
// element-wise maps, reductions over one dimension, softmax. These helpers
// build them as `linalg.generic` on tensors, so everything stays
// target-neutral until bufferization.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_TENSORBUILDERS_H
#define MOE_PASSES_TENSORBUILDERS_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <functional>

namespace mlir::moe {

/// The scalar body of a map or reduction: the scalars it combines, returning
/// the result element.
using ScalarFn =
    std::function<Value(OpBuilder &, Location, ValueRange /*args*/)>;

/// An uninitialised tensor of `shape` and `elementType`.
Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type elementType);

/// A tensor of `shape` filled with `value`.
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   TypedAttr value);

/// `result[i...] = fn(inputs[0][i...], inputs[1][i...], ...)` for inputs of
/// one shape (rank-0 inputs are broadcast).
Value mapElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                     Type resultElementType, const ScalarFn &fn);

/// Reduces `input` over `dim` starting from `init`:
/// `acc = fn(acc, x)`, giving a tensor of the other dimensions.
Value reduceDim(OpBuilder &b, Location loc, Value input, int64_t dim,
                TypedAttr init, const ScalarFn &fn);

/// `fn(input[..., i, ...], reduced[...])` with `reduced` broadcast along
/// `dim` (of the result of reduceDim over the same `dim`).
Value mapWithReduced(OpBuilder &b, Location loc, Value input, Value reduced,
                     int64_t dim, Type resultElementType, const ScalarFn &fn);

/// `max_dim input` and `exp(input - max)` (max broadcast along `dim`): the
/// stable start of softmax and log-sum-exp over a float tensor. A row of -Inf
/// only has max -Inf and exps 0.
std::pair<Value, Value> expMinusMax(OpBuilder &b, Location loc, Value input,
                                    int64_t dim);

/// `input / sum_dim input`, with the sum broadcast along `dim`.
Value normalizeBySum(OpBuilder &b, Location loc, Value input, int64_t dim);

/// Whether the float scalar `x` is -Inf.
Value isMinusInfinity(OpBuilder &b, Location loc, Value x);

/// Numerically stable softmax of a float tensor along `dim`.
Value softmax(OpBuilder &b, Location loc, Value input, int64_t dim);

/// `log sum_dim exp(input)`, stable; -Inf for a row of -Inf only.
Value logSumExp(OpBuilder &b, Location loc, Value input, int64_t dim);

/// `input[g, s, indices[g, s, j]]`: gathers along the last dimension.
Value takeAlongLastDim(OpBuilder &b, Location loc, Value input, Value indices);

/// A ranked tensor type.
RankedTensorType tensorType(ArrayRef<int64_t> shape, Type elementType);

/// `affine_map<(d0, ..., d{numDims-1}) -> (d{dims[0]}, d{dims[1]}, ...)>`.
AffineMap loopMap(OpBuilder &b, int64_t numDims, ArrayRef<unsigned> dims);

/// A tensor of `shape` whose element at `indices` is `fn(indices)`.
Value generateTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                     Type elementType,
                     function_ref<Value(OpBuilder &, Location, ValueRange)> fn);

/// `[G, A, B]` to `[G, B, A]` (linalg.transpose).
Value swapLastDims(OpBuilder &b, Location loc, Value input);

/// `input * factor`, element-wise, for an f32 tensor.
Value scaleBy(OpBuilder &b, Location loc, Value input, double factor);

/// The sum of `input` over `dim` (float or integer elements).
Value sumDim(OpBuilder &b, Location loc, Value input, int64_t dim);

/// `init[out] += lhs[lhsDims] * rhs[rhsDims]` over `numLoops` loops, the
/// first `numParallel` parallel and the rest reductions; the operands are
/// converted to the accumulator's float type before multiplying.
Value multiplyAccumulate(OpBuilder &b, Location loc, Value lhs, Value rhs,
                         Value init, int64_t numLoops, int64_t numParallel,
                         ArrayRef<unsigned> lhsDims, ArrayRef<unsigned> rhsDims,
                         ArrayRef<unsigned> outDims);

/// The body of a loop: given the induction variable and the carried values,
/// returns the values to yield.
using LoopBodyFn = function_ref<SmallVector<Value>(OpBuilder &, Location,
                                                   Value /*i*/, ValueRange)>;

/// `scf.for %i = lower to upper step 1` carrying `iterArgs` (index bounds).
scf::ForOp forLoop(OpBuilder &b, Location loc, Value lower, Value upper,
                   ValueRange iterArgs, LoopBodyFn body);

/// `scf.for %i = 0 to n step 1` carrying `iterArgs`.
scf::ForOp forRange(OpBuilder &b, Location loc, int64_t n, ValueRange iterArgs,
                    LoopBodyFn body);

/// The unit attribute marking a scatter loop: each iteration writes elements
/// of the loop's carried tensors that no other iteration writes or reads, so
/// the iterations may run in any order or at once (GPU targets run them as a
/// parallel loop, moe-gpu-parallel-scatters). Sequential targets ignore it.
inline constexpr llvm::StringLiteral kDisjointIterationsAttr =
    "moe.disjoint_iterations";

/// `loop` marked with kDisjointIterationsAttr (the caller guarantees it).
scf::ForOp markDisjointIterations(scf::ForOp loop);

/// A float scalar converted to the float type `type` (extended or truncated).
Value convertFloat(OpBuilder &b, Location loc, Value value, Type type);

/// Slot, token and row indices are i32 with -1 for "none": `index < 0`.
Value isNone(OpBuilder &b, Location loc, Value index);

/// Such an index as an `index` clamped to 0, so that a read through it stays
/// in bounds; the caller discards what it reads for "none".
Value clampedIndex(OpBuilder &b, Location loc, Value index);

/// Integer-index conversions of a scalar.
Value toIndex(OpBuilder &b, Location loc, Value value);
Value toI32(OpBuilder &b, Location loc, Value value);

/// An f32 / f64 / i32 / index constant.
Value f32Constant(OpBuilder &b, Location loc, double value);
Value f64Constant(OpBuilder &b, Location loc, double value);
Value i32Constant(OpBuilder &b, Location loc, int32_t value);
Value indexConstant(OpBuilder &b, Location loc, int64_t value);

} // namespace mlir::moe

#endif // MOE_PASSES_TENSORBUILDERS_H
