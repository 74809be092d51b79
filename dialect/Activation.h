//===- Activation.h - Expert activations on scalars and tensors -*- C++ -*-===//
//
// The activations of the named MLP experts (`#moe.activation`) as arith and
// math ops, shared by the decomposition of `moe.grouped_matmul`'s epilogue
// and the lowering of `moe.experts`, so both compute the same function.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_ACTIVATION_H
#define MOE_DIALECT_ACTIVATION_H

#include "dialect/MoEAttrs.h"

#include "mlir/IR/Builders.h"

#include <optional>

namespace mlir::moe {

/// The activation of one float scalar (`swiglu`: its silu gate).
Value activateScalar(OpBuilder &b, Location loc, Activation activation,
                     Value x);

/// The epilogue of an expert GEMM's result `z` (`[rows, P]`, or any rank
/// without `rowScale`): the `activation` if any (`swiglu` halves the last
/// dimension), then times `rowScale[r]` (f32 `[rows]`) if given. One
/// linalg.generic writing into `dest` (a fresh tensor when null); `z`
/// itself when there is nothing to apply.
Value expertEpilogue(OpBuilder &b, Location loc,
                     std::optional<Activation> activation, Value z,
                     Value rowScale, Value dest);

/// The activation of a float tensor of pre-activations. For `swiglu` the last
/// dimension `2h` is split into gate and value: `silu(z[..., :h]) *
/// z[..., h:]`, giving a last dimension of `h`.
Value activateTensor(OpBuilder &b, Location loc, Activation activation,
                     Value z);

} // namespace mlir::moe

#endif // MOE_DIALECT_ACTIVATION_H
