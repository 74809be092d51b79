//===- MoEOps.td - Level-1 moe operations --------------------*- tablegen -*-===//
//
// Level 1 says *what* a Mixture-of-Experts layer computes: gate, route,
// dispatch, experts, combine (and optional routing statistics). Shapes are
// static; a group is a run of `S` consecutive tokens routed independently.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEOPS_TD
#define MOE_DIALECT_MOEOPS_TD

include "dialect/MoEDialect.td"
include "dialect/MoEAttrs.td"
include "dialect/MoETypes.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Every tensor of a moe op fits in memory (dialect/SizeLimits.h), so the
// shape arithmetic of verifiers and lowerings cannot overflow.
def MoE_TensorsFitInMemory : NativeOpTrait<"TensorsFitInMemory"> {
  let cppNamespace = "::mlir::OpTrait::moe";
}

class MoE_Op<string mnemonic, list<Trait> traits = []>
    : Op<MoE_Dialect, mnemonic, !listconcat([MoE_TensorsFitInMemory], traits)>;

def MoE_RouterAttr : Attr<
    CPred<"::llvm::isa<::mlir::moe::RouterAttrInterface>($_self)">,
    "router attribute (#moe.token_choice, #moe.expert_choice, #moe.soft, "
    "#moe.per_image)"> {
  let storageType = "::mlir::moe::RouterAttrInterface";
  let returnType = "::mlir::moe::RouterAttrInterface";
  let convertFromStorage = "$_self";
}

def MoE_FloatTensor3D : RankedTensorOf<[AnyFloat], [HasAnyRankOfPred<[3]>]>;
def MoE_F32Tensor3D : RankedTensorOf<[F32], [HasAnyRankOfPred<[3]>]>;

//===----------------------------------------------------------------------===//
// moe.gate
//===----------------------------------------------------------------------===//

def MoE_GateOp : MoE_Op<"gate", [Pure]> {
  let summary = "router logits of every token (plain or Soft-MoE normalised)";
  let description = [{
    Computes the router logits of each token of each group, accumulating in
    f32 whatever the input element type.

    Plain form (V-MoE, Expert Choice, Sinkhorn, per-image): `weight` is
    `[d, E]` and `logits[g, s, e] = sum_i x[g, s, i] * weight[i, e]` (no
    bias).

    Soft MoE form (docs/routers.md §4.5), selected by a `scale` operand (a 0-d
    f32 tensor): `weight` is `phi`, `[d, E, p]`; tokens and the columns of
    `phi` are l2-normalised, `rsqrt(sum_i v_i^2 + 1e-6)`, and the result is
    `L[g, s, e*p + q] = scale * <xn[g, s], phin[:, e, q]>`, of shape
    `[G, S, E*p]`.

    ```mlir
    %logits = moe.gate %x, %w : tensor<1x1576x768xf32>, tensor<768x8xf32>
                                -> tensor<1x1576x8xf32>
    %L = moe.gate %x, %phi scale %s : tensor<8x196x768xf32>, tensor<768x128x1xf32>,
                                      tensor<f32> -> tensor<8x196x128xf32>
    ```
  }];
  let arguments = (ins MoE_FloatTensor3D:$input,
                       RankedTensorOf<[AnyFloat]>:$weight,
                       Optional<0DTensorOf<[F32]>>:$scale);
  let results = (outs MoE_F32Tensor3D:$logits);
  let assemblyFormat = [{
    $input `,` $weight (`scale` $scale^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($scale)^)? `->` type($logits)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// True for the Soft MoE (normalised, scaled) form.
    bool isNormalized() { return static_cast<bool>(getScale()); }
  }];
}

//===----------------------------------------------------------------------===//
// moe.route
//===----------------------------------------------------------------------===//

def MoE_RouteOp : MoE_Op<"route", [Pure]> {
  let summary = "router logits to a routing plan";
  let description = [{
    Runs the router named by the `router` attribute on every group of the
    `[G, S, N]` logits and returns the plan. The plan type is static: its
    `capacity` must equal what the router computes from `S` and `E`
    (docs/routers.md §2); the verifier checks it and names the expected type.

    `N` is `E` for the sparse routers and `E * slots_per_expert` for
    `#moe.soft`. Routing is deterministic and inference-mode (no noise).

    ```mlir
    %plan = moe.route %logits token_choice<k = 2, capacity_factor = 1.05, priority = bpr>
        : tensor<1x1576x8xf32> -> !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
    %ec = moe.route %logits2 expert_choice<capacity_factor = 1.0, score = sinkhorn<iterations = 20, epsilon = 1.0>>
        : tensor<1x1568x32xf32> -> !moe.plan<groups = 1, tokens = 1568, experts = 32, capacity = 52>
    ```
  }];
  let arguments = (ins MoE_F32Tensor3D:$logits, MoE_RouterAttr:$router);
  let results = (outs MoE_PlanType:$plan);
  let assemblyFormat = [{
    $logits custom<Router>($router) attr-dict `:` type($logits) `->` qualified(type($plan))
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// moe.dispatch
//===----------------------------------------------------------------------===//

def MoE_DispatchOp : MoE_Op<"dispatch", [Pure]> {
  let summary = "gather tokens into expert slots";
  let description = [{
    `slots[e, g*C + c, :] = sum_s D[g, s, e, c] * input[g, s, :]`
    (docs/routers.md §3): for the sparse routers slot `(e, c)` of group `g` holds
    a copy of the token routed there, or zeros when empty; for Soft MoE each
    slot is the dispatch-weighted mixture of the group's valid tokens (an
    invalid token's features, which may be NaN, never reach a slot). The
    input is `[G, S, d]`, the result `[E, G*C, d]` with the same element type.

    ```mlir
    %slots = moe.dispatch %x, %plan : tensor<1x1576x768xf32>,
        !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
        -> tensor<8x416x768xf32>
    ```
  }];
  let arguments = (ins MoE_FloatTensor3D:$input, MoE_PlanType:$plan);
  let results = (outs MoE_FloatTensor3D:$slots);
  let assemblyFormat = [{
    $input `,` $plan attr-dict `:` type($input) `,` qualified(type($plan)) `->`
    type($slots)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// moe.experts
//===----------------------------------------------------------------------===//

def MoE_ExpertsOp : MoE_Op<"experts", [
    AttrSizedOperandSegments, RecursiveMemoryEffects]> {
  let summary = "apply expert e to the slots of expert e";
  let description = [{
    Computes `result[e] = f_e(input[e])` for every expert, where `input` is
    `[E, M, d]` (as made by `moe.dispatch`, `M = G * C`) and the result
    `[E, M, d_out]`. Empty slots (zeros) go through `f_e` too; `moe.combine`
    ignores them. Two forms:

    **Named MLP form**: `mlp(act) up %w1 [up_bias %b1] down %w2
    [down_bias %b2]`, with `w1: [E, d, h]` (`[E, d, 2h]` for `swiglu`),
    `b1: [E, h]` (`[E, 2h]`), `w2: [E, h, d_out]`, `b2: [E, d_out]`:
    `f_e(x) = act(x w1[e] + b1[e]) w2[e] + b2[e]`. For `swiglu`,
    `act(z) = silu(z[:, :h]) * z[:, h:]`.

    ```mlir
    %y = moe.experts %slots mlp(gelu) up %w1 up_bias %b1 down %w2 down_bias %b2
        : (tensor<8x416x768xf32>, tensor<8x768x3072xf32>, tensor<8x3072xf32>,
           tensor<8x3072x768xf32>, tensor<8x768xf32>) -> tensor<8x416x768xf32>
    ```

    **Region form**: any expert body. The region has one block with the
    expert index and that expert's `[M, d]` slots as arguments, and yields
    its `[M, d_out]` result. Per-expert weights are captured from above and
    indexed with the expert index.

    ```mlir
    %y = moe.experts %slots : (tensor<8x416x768xf32>) -> tensor<8x416x768xf32> {
    ^bb0(%e: index, %x: tensor<416x768xf32>):
      %r = math.tanh %x : tensor<416x768xf32>
      moe.yield %r : tensor<416x768xf32>
    }
    ```
  }];
  let arguments = (ins MoE_FloatTensor3D:$input,
                       OptionalAttr<MoE_ActivationAttr>:$activation,
                       Optional<RankedTensorOf<[AnyFloat]>>:$up_weight,
                       Optional<RankedTensorOf<[AnyFloat]>>:$up_bias,
                       Optional<RankedTensorOf<[AnyFloat]>>:$down_weight,
                       Optional<RankedTensorOf<[AnyFloat]>>:$down_bias);
  let results = (outs MoE_FloatTensor3D:$result);
  let regions = (region AnyRegion:$body);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    // Named MLP form; the biases may be null.
    OpBuilder<(ins "::mlir::Type":$resultType, "::mlir::Value":$input,
                   "::mlir::moe::Activation":$activation,
                   "::mlir::Value":$upWeight, "::mlir::Value":$upBias,
                   "::mlir::Value":$downWeight, "::mlir::Value":$downBias)>,
    // Region form, with an empty body block to fill.
    OpBuilder<(ins "::mlir::Type":$resultType, "::mlir::Value":$input)>
  ];
  let extraClassDeclaration = [{
    /// True for the named MLP form, false for the region form.
    bool isMLP() { return getActivation().has_value(); }
    /// The hidden width `h` of the named MLP form.
    int64_t getHiddenSize();
  }];
}

def MoE_YieldOp : MoE_Op<"yield", [Pure, Terminator, ReturnLike,
                                  HasParent<"ExpertsOp">]> {
  let summary = "the result of one expert in a `moe.experts` region";
  let description = [{
    Terminates the body of the region form of `moe.experts` with the
    expert's `[M, d_out]` result.

    ```mlir
    moe.yield %r : tensor<416x768xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnyFloat]>:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

//===----------------------------------------------------------------------===//
// moe.combine
//===----------------------------------------------------------------------===//

def MoE_CombineOp : MoE_Op<"combine", [Pure]> {
  let summary = "weighted sum of expert slots back to tokens";
  let description = [{
    `output[g, s, :] = sum_{e, c} W[g, s, e, c] * slots[e, g*C + c, :]`
    (docs/routers.md §3). Sparse routers: a token receives its kept slots weighted
    by their combine weights (not renormalised unless the router says so); a
    token with no kept slot receives 0, an invalid token (docs/routers.md §7)
    NaN. Soft MoE: dense combine weights. The sum is deterministic: a token's
    assignments are added in a fixed order (token choice: its choices in rank
    order; expert choice: increasing expert), with no atomics.

    ```mlir
    %out = moe.combine %y, %plan : tensor<8x416x768xf32>,
        !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
        -> tensor<1x1576x768xf32>
    ```
  }];
  let arguments = (ins MoE_FloatTensor3D:$slots, MoE_PlanType:$plan);
  let results = (outs MoE_FloatTensor3D:$output);
  let assemblyFormat = [{
    $slots `,` $plan attr-dict `:` type($slots) `,` qualified(type($plan)) `->`
    type($output)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// moe.route_stats
//===----------------------------------------------------------------------===//

def MoE_RouteStatsOp : MoE_Op<"route_stats", [Pure]> {
  let summary = "per-group routing statistics (docs/routers.md §5)";
  let description = [{
    Statistics of a sparse routing plan and the logits it was routed from,
    per group:
    - `importance_loss[g] = CV(Imp)^2` with `Imp_e = sum_s softmax(l)[s, e]`
      and `CV = population std / mean`;
    - `expert_load[g, e]`: kept assignments (occupied slots) of expert `e`;
    - `dropped_assignments[g]`: choices that found their expert full (always
      0 for expert choice and dropless routing);
    - `dropped_tokens[g]`: tokens none of whose choices was kept (for
      expert choice: tokens no expert took);
    - optionally `invalid_tokens[g]`: tokens the router did not route
      because their logits are not valid (a NaN or +Inf, or -Inf everywhere;
      for per-image routing, every token of an invalid image;
      docs/routers.md §7).

    Every statistic but `invalid_tokens` is over the valid tokens only.

    ```mlir
    %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan
        : tensor<1x1576x8xf32>, !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
        -> tensor<1xf32>, tensor<1x8xi64>, tensor<1xi64>, tensor<1xi64>
    %imp2, %load2, %dropped2, %lost2, %invalid = moe.route_stats %logits, %plan
        : tensor<1x1576x8xf32>, !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
        -> tensor<1xf32>, tensor<1x8xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>
    ```
  }];
  let arguments = (ins MoE_F32Tensor3D:$logits, MoE_PlanType:$plan);
  let results = (outs RankedTensorOf<[F32]>:$importance_loss,
                      RankedTensorOf<[I64]>:$expert_load,
                      RankedTensorOf<[I64]>:$dropped_assignments,
                      RankedTensorOf<[I64]>:$dropped_tokens,
                      Optional<RankedTensorOf<[I64]>>:$invalid_tokens);
  let assemblyFormat = [{
    $logits `,` $plan attr-dict `:` type($logits) `,` qualified(type($plan))
    `->` type($importance_loss) `,` type($expert_load) `,`
    type($dropped_assignments) `,` type($dropped_tokens)
    (`,` type($invalid_tokens)^)?
  }];
  let hasVerifier = 1;
}

def MoE_PlanSlotsOp : MoE_Op<"plan_slots", [Pure]> {
  let summary = "the slot table of a sparse plan: which token sits in which slot";
  let description = [{
    Makes a sparse routing plan visible as tensors, per group:
    - `slot_token[g, e, c]`: the token in slot `c` of expert `e`, or `-1` if
      the slot is empty;
    - `slot_weight[g, e, c]`: that token's combine weight for this slot
      (`W[s, e, c]` of docs/routers.md §3), `0` for an empty slot.

    Slots fill in the router's order (docs/routers.md §4), so two plans are equal
    exactly when their tables are: this is how a compiled router is checked
    slot by slot against the reference, and how a user reads the routing
    decision out of a model (e.g. the per-image router's choice). For
    dropless routing the table has `C = S` slots per expert, filled in front.
    A Soft MoE plan has no slot table (its weights are dense).

    ```mlir
    %slot_token, %slot_weight = moe.plan_slots %plan
        : !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
        -> tensor<1x8x416xi64>, tensor<1x8x416xf32>
    ```
  }];
  let arguments = (ins MoE_PlanType:$plan);
  let results = (outs RankedTensorOf<[I64]>:$slot_token,
                      RankedTensorOf<[F32]>:$slot_weight);
  let assemblyFormat = [{
    $plan attr-dict `:` qualified(type($plan)) `->` type($slot_token) `,`
    type($slot_weight)
  }];
  let hasVerifier = 1;
}

include "dialect/MoEPrimitiveOps.td"
include "dialect/MoECheckOps.td"

#endif // MOE_DIALECT_MOEOPS_TD
