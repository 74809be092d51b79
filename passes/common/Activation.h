//===- Activation.h - Expert activations on scalars and tensors -*- C++ -*-===//
//
// The activations of the named MLP experts (`#moe.activation`), shared by the
// lowering of `moe.experts` (padded slots) and of `moe.grouped_matmul`'s
// epilogue (the sorted layout), so both compute the same function.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_ACTIVATION_H
#define MOE_PASSES_ACTIVATION_H

#include "dialect/MoEAttrs.h"

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// The activation of one float scalar (`swiglu`: its silu gate).
Value activateScalar(OpBuilder &b, Location loc, Activation activation,
                     Value x);

/// The activation of a float tensor of pre-activations. For `swiglu` the last
/// dimension `2h` is split into gate and value: `silu(z[..., :h]) *
/// z[..., h:]`, giving a last dimension of `h`.
Value activateTensor(OpBuilder &b, Location loc, Activation activation,
                     Value z);

} // namespace mlir::moe

#endif // MOE_PASSES_ACTIVATION_H
