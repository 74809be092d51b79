//===- MoEDialect.td - The moe dialect definition ----------*- tablegen -*-===//
//
// The `moe` dialect expresses Mixture-of-Experts layers: routing, dispatch,
// per-expert computation and combine are first-class operations.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEDIALECT_TD
#define MOE_DIALECT_MOEDIALECT_TD

include "mlir/IR/OpBase.td"

def MoE_Dialect : Dialect {
  let name = "moe";
  let cppNamespace = "::mlir::moe";
  let summary = "Mixture-of-Experts routing, dispatch, experts and combine";
  let description = [{
    The `moe` dialect makes the parts of a Mixture-of-Experts layer explicit
    so that passes can choose layouts, fuse and tile them.

    Level 1 (this dialect's user-facing ops) says *what* a layer computes:

    ```mlir
    %logits = moe.gate %x, %wg : tensor<1x1576x768xf32>, tensor<768x8xf32>
                                  -> tensor<1x1576x8xf32>
    %plan = moe.route %logits token_choice<k = 2, capacity_factor = 1.05,
                                                priority = bpr>
        : tensor<1x1576x8xf32> -> !moe.plan<groups = 1, tokens = 1576,
                                            experts = 8, capacity = 416>
    %slots = moe.dispatch %x, %plan : tensor<1x1576x768xf32>, !moe.plan<...>
                                      -> tensor<8x416x768xf32>
    %y = moe.experts %slots mlp(gelu) up %w1 up_bias %b1 down %w2 down_bias %b2
        : (...) -> tensor<8x416x768xf32>
    %out = moe.combine %y, %plan : tensor<8x416x768xf32>, !moe.plan<...>
                                   -> tensor<1x1576x768xf32>
    ```

    The routing semantics of every router attribute are those of
    `docs/routers.md`: axes, rounding, tie-breaking and drop rules are exact.

    The arguments and results of a compiled entry function are named for the
    runtime with string attributes: `moe.input` (bound from `.npy` inputs),
    `moe.weight` (bound by name from a `.safetensors` file) and `moe.output`
    (the name a result is written and checked under):

    ```mlir
    func.func @layer(%x: tensor<1x400x512xf32> {moe.input = "x"},
                     %wg: tensor<512x8xf32> {moe.weight = "w_gate"})
        -> (tensor<1x400x512xf32> {moe.output = "out"})
    ```
  }];
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
    void registerTypes();

    /// Names of the argument and result attributes of entry functions.
    static constexpr ::llvm::StringLiteral kInputAttrName = "moe.input";
    static constexpr ::llvm::StringLiteral kWeightAttrName = "moe.weight";
    static constexpr ::llvm::StringLiteral kOutputAttrName = "moe.output";
    /// Set by moe-specialize-groups on the entry's arguments and results
    /// whose first dimension holds every group's rows (a unit attribute).
    static constexpr ::llvm::StringLiteral kPerGroupAttrName = "moe.per_group";
    /// Set by moe-specialize-groups on the entry: the groups one call
    /// computes (an i64).
    static constexpr ::llvm::StringLiteral kGroupsPerCallAttrName =
        "moe.groups_per_call";
  }];
}

#endif // MOE_DIALECT_MOEDIALECT_TD
