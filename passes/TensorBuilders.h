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

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <functional>

namespace mlir::moe {

/// The body of an element-wise map: the scalars of the inputs (in order) and
/// the current output element (for accumulation), returning the new one.
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

/// Numerically stable softmax of an f32 tensor along `dim`.
Value softmax(OpBuilder &b, Location loc, Value input, int64_t dim);

/// `input[g, s, indices[g, s, j]]`: gathers along the last dimension.
Value takeAlongLastDim(OpBuilder &b, Location loc, Value input, Value indices);

/// An f32 / i32 / index constant.
Value f32Constant(OpBuilder &b, Location loc, double value);
Value i32Constant(OpBuilder &b, Location loc, int32_t value);
Value indexConstant(OpBuilder &b, Location loc, int64_t value);

} // namespace mlir::moe

#endif // MOE_PASSES_TENSORBUILDERS_H
