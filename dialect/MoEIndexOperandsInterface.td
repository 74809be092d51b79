//===- MoEIndexOperandsInterface.td - Ops that index with operands -*- tablegen -*-//
//
// The level-2 data-movement ops read rows, slots and offsets through index
// tensors. Each says which of its operands are indices and which values they
// may hold, so `moe-insert-index-checks` can check index tensors a caller
// passes in, without knowing the op.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEINDEXOPERANDSINTERFACE_TD
#define MOE_DIALECT_MOEINDEXOPERANDSINTERFACE_TD

include "mlir/IR/OpBase.td"

def MoE_IndexOperandsInterface : OpInterface<"IndexOperandsInterface"> {
  let cppNamespace = "::mlir::moe";
  let description = [{
    An op whose index operands (i32 tensors of token, slot, row or expert
    indices) must hold values in a static range `[lower, upper)` for the op
    to be defined: every element `v` of such an operand satisfies
    `lower <= v < upper` (`-1` is in range where it means "none"). Index
    tensors the compiler computes satisfy this by construction; for index
    tensors that come from outside (entry arguments) the contract is checked
    at run time by `moe-insert-index-checks`.
  }];
  let methods = [
    InterfaceMethod<[{
        The index operands with the range of values each may hold.
      }],
      "::llvm::SmallVector<::mlir::moe::IndexOperandRange>",
      "getIndexOperandRanges">,
  ];
}

#endif // MOE_DIALECT_MOEINDEXOPERANDSINTERFACE_TD
