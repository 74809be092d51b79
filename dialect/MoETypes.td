//===- MoETypes.td - The routing plan type -------------------*- tablegen -*-===//

#ifndef MOE_DIALECT_MOETYPES_TD
#define MOE_DIALECT_MOETYPES_TD

include "dialect/MoEDialect.td"
include "mlir/IR/AttrTypeBase.td"

def MoE_PlanType : TypeDef<MoE_Dialect, "Plan"> {
  let mnemonic = "plan";
  let summary = "a routing plan: which expert slot holds which token";
  let description = [{
    The result of `moe.route`: for each of `groups` groups of `tokens`
    tokens, which of the `capacity` slots of each of the `experts` experts
    holds which token, and with which combine weight (for Soft MoE, the dense
    dispatch and combine weights).

    The type is abstract on purpose: it carries only the static shape, so
    every tensor downstream of the route is static, while a pass picks the
    concrete layout (a capacity-padded slot table, a sorted ragged list, or
    dense soft weights). `capacity` is the number of slots per expert per
    group: the capacity `C` of docs/routers.md §2 for capacity-limited routers,
    `tokens` for dropless token choice, `slots_per_expert` for Soft MoE.

    ```mlir
    !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
    !moe.plan<groups = ?, tokens = 197, experts = 8, capacity = 52>
    ```

    `groups = ?`: the number of groups is known only at run time (a batch of
    any size); the per-group sizes stay static, so capacity and routing do
    not depend on it. `moe-specialize-groups` compiles such code for one
    group, and the runtime runs it once per group.

    Tensors of slots, as produced by `moe.dispatch`, have the shape
    `[experts, groups * capacity, d]`: expert `e` holds the slots of every
    group, group-major.
  }];
  let parameters = (ins "int64_t":$groups, "int64_t":$tokens,
                        "int64_t":$experts, "int64_t":$capacity);
  let assemblyFormat = [{
    `<` `groups` `=` custom<GroupCount>($groups) `,` `tokens` `=` $tokens `,`
        `experts` `=` $experts `,` `capacity` `=` $capacity `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Whether the number of groups is dynamic (`groups = ?`).
    bool hasDynamicGroups() const {
      return ::mlir::ShapedType::isDynamic(getGroups());
    }
    /// Slots per expert over all groups: `groups * capacity` (dynamic where
    /// the groups are).
    int64_t getSlotsPerExpert() const {
      return hasDynamicGroups() ? ::mlir::ShapedType::kDynamic
                                : getGroups() * getCapacity();
    }
  }];
}

#endif // MOE_DIALECT_MOETYPES_TD
