//===- MoERouterInterface.td - Interface of router attributes -*- tablegen -*-//
//
// Every router attribute (`#moe.token_choice`, `#moe.expert_choice`,
// `#moe.soft`, `#moe.per_image`) implements this interface, so `moe.route`
// and the passes that lower it can ask any router for the shape of the plan it
// produces without knowing which router it is.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEROUTERINTERFACE_TD
#define MOE_DIALECT_MOEROUTERINTERFACE_TD

include "mlir/IR/OpBase.td"

def MoE_RouterAttrInterface : AttrInterface<"RouterAttrInterface"> {
  let cppNamespace = "::mlir::moe";
  let description = [{
    A routing algorithm: turns router logits of one group, `[S, N]`, into a
    routing plan (which slot of which expert holds which token, with which
    weight). The interface exposes what is static about the plan, so shapes
    downstream of `moe.route` are static.
  }];
  let methods = [
    InterfaceMethod<[{
        Number of router logits per token for `numExperts` experts with
        `slotsPerExpert` slots each (the plan's capacity): `E` for the sparse
        routers, `E * slots_per_expert` for Soft MoE.
      }],
      "int64_t", "getLogitsPerToken",
      (ins "int64_t":$numExperts, "int64_t":$slotsPerExpert)>,
    InterfaceMethod<[{
        The number of slots per expert per group (the capacity `C` of
        docs/routers.md §2) for groups of `tokensPerGroup` tokens and `numExperts`
        experts, or failure after reporting why through `emitError` (for
        example a computed capacity below 1, or `k > E`).
      }],
      "::mlir::FailureOr<int64_t>", "computeSlotsPerExpert",
      (ins "int64_t":$tokensPerGroup, "int64_t":$numExperts,
           "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError)>,
    InterfaceMethod<[{
        True when each slot holds one token (0/1 dispatch, a slot table);
        false for Soft MoE, whose slots are dense mixtures of all tokens.
      }],
      "bool", "isSparse">,
  ];
}

#endif // MOE_DIALECT_MOEROUTERINTERFACE_TD
