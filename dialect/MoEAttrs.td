//===- MoEAttrs.td - Router, score and activation attributes -*- tablegen -*-//
//
// The router attributes select and parameterise the routing algorithm of a
// `moe.route`. Their semantics are docs/routers.md, exactly.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEATTRS_TD
#define MOE_DIALECT_MOEATTRS_TD

include "dialect/MoEDialect.td"
include "dialect/MoERouterInterface.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def MoE_CapacityRounding : I32EnumAttr<"CapacityRounding",
    "how the raw capacity num_tokens * cf / E becomes an integer", [
      I32EnumAttrCase<"ceil", 0>,
      I32EnumAttrCase<"round", 1>,
    ]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_Priority : I32EnumAttr<"Priority",
    "the order in which tokens fill expert slots (token choice)", [
      I32EnumAttrCase<"position", 0>,
      I32EnumAttrCase<"bpr", 1>,
    ]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_Pooling : I32EnumAttr<"Pooling",
    "how per-image routing reduces an image's tokens to one router input", [
      I32EnumAttrCase<"cls", 0>,
      I32EnumAttrCase<"mean", 1>,
    ]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_Activation : I32EnumAttr<"Activation",
    "the activation of an MLP expert", [
      I32EnumAttrCase<"gelu", 0>,
      I32EnumAttrCase<"relu", 1>,
      I32EnumAttrCase<"silu", 2>,
      I32EnumAttrCase<"swiglu", 3>,
      I32EnumAttrCase<"gelu_tanh", 4>,
    ]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

class MoE_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<MoE_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def MoE_ActivationAttr : EnumAttr<MoE_Dialect, MoE_Activation, "activation"> {
  let assemblyFormat = "$value";
  let description = [{
    The activation of a named MLP expert (`moe.experts ... mlp(<activation>)`):

    - `gelu`: `x * 0.5 * (1 + erf(x / sqrt(2)))`, the exact erf form
      (PyTorch's default);
    - `gelu_tanh`: `x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))`,
      the tanh approximation (JAX/Flax's default, `approximate=True`);
    - `relu`: `max(x, 0)`;
    - `silu`: `x * sigmoid(x)`;
    - `swiglu`: `silu(x W_gate) * (x W_lin)`. The first projection then has
      `2h` columns: columns `[0, h)` are `W_gate`, `[h, 2h)` are `W_lin`.

    ```mlir
    %y = moe.experts %x mlp(swiglu) up %w13 down %w2 : (...) -> tensor<8x512x1024xf32>
    ```
  }];
}

//===----------------------------------------------------------------------===//
// Score functions: how router logits become the scores top-k ranks
//===----------------------------------------------------------------------===//

def MoE_SoftmaxScoreAttr : MoE_Attr<"SoftmaxScore", "softmax"> {
  let summary = "softmax over the experts of a token";
  let description = [{
    `gates[s, :] = softmax(logits[s, :])`. The default score of
    `#moe.token_choice` and `#moe.expert_choice`, so it is omitted when
    printing. Written `score = softmax` inside a router attribute:

    ```mlir
    #moe.expert_choice<capacity_factor = 2.0, score = softmax>
    ```
  }];
}

def MoE_SigmoidScoreAttr : MoE_Attr<"SigmoidScore", "sigmoid"> {
  let summary = "element-wise sigmoid of the logits";
  let description = [{
    `gates[s, e] = 1 / (1 + exp(-logits[s, e]))`, computed in the stable form
    (`exp(x) / (1 + exp(x))` below 0); the combine weights are these values.
    Top-k and the BPR order rank the logits, which the sigmoid increases with:
    exactly the order of the sigmoid values, without the ties of saturated or
    underflowing f32 values. Token choice only:

    ```mlir
    #moe.token_choice<k = 2, dropless, score = sigmoid>
    ```
  }];
}

def MoE_SinkhornScoreAttr : MoE_Attr<"SinkhornScore", "sinkhorn"> {
  let summary = "Sinkhorn balanced transport plan (docs/routers.md §4.3)";
  let description = [{
    Balances the assignment with `iterations` Sinkhorn steps on
    `K = exp(logits / epsilon)` with marginals `a = 1_S`, `b = (S/E) 1_E`,
    starting from `v = 1`:
    `u = a / (K v); v = b / (K^T u)`, then `P = diag(u) K diag(v)`, in the
    log domain, over the group's valid tokens (docs/routers.md §7).
    Top-k (token choice, with BPR priority `max_e P[s, e]`) or top-C (expert
    choice) rank `P` as exact arithmetic does: token choice ranks `-log R`
    with `P = b / (1 + R)` (so one token per group ties every expert at
    `P = 1/E`, and the lower experts win), expert choice ranks
    `log u_s + logits[s, e] / epsilon` down a column (docs/routers.md §4.3).
    The combine weights are `softmax(logits)` at the chosen slots. Defaults:
    `iterations = 20`, `epsilon = 1.0`.

    ```mlir
    #moe.token_choice<k = 2, capacity_factor = 1.05, score = sinkhorn<iterations = 10, epsilon = 0.5>>
    ```
  }];
  let parameters = (ins
    "int64_t":$iterations,
    APFloatParameter<"the entropic regularisation epsilon">:$epsilon);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    double getEpsilonValue() const { return getEpsilon().convertToDouble(); }
  }];
}

def MoE_KSparseOTScoreAttr : MoE_Attr<"KSparseOTScore", "ksparse_ot"> {
  let summary = "sparsity-constrained optimal transport (docs/routers.md §4.4)";
  let description = [{
    Expert choice on a C-sparse transport plan: the semi-dual of the
    quadratically regularised (gamma = 1) transport problem with cost
    `-softmax(logits)`, at most `C` non-zeros per expert column, solved with
    `iterations` Adam steps of learning rate `learning_rate` (betas 0.9, 0.999,
    eps 1e-8) on the token potentials. Expert choice only. Defaults:
    `iterations = 20`, `learning_rate = 0.01`.

    ```mlir
    #moe.expert_choice<capacity_factor = 1.0, score = ksparse_ot<iterations = 50, learning_rate = 0.01>>
    ```
  }];
  let parameters = (ins
    "int64_t":$iterations,
    APFloatParameter<"the Adam learning rate">:$learningRate);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    double getLearningRateValue() const {
      return getLearningRate().convertToDouble();
    }
  }];
}

//===----------------------------------------------------------------------===//
// Routers
//===----------------------------------------------------------------------===//

class MoE_RouterAttr<string name, string attrMnemonic>
    : MoE_Attr<name, attrMnemonic, [
        DeclareAttrInterfaceMethods<MoE_RouterAttrInterface>]> {
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def MoE_TokenChoiceAttr : MoE_RouterAttr<"TokenChoice", "token_choice"> {
  let summary = "each token picks its top-k experts (V-MoE, docs/routers.md §4.1)";
  let description = [{
    Every token ranks the experts by score and picks the `k` best (ties go to
    the lower expert index). Slots fill in rounds: every token's r-th choice
    before anyone's (r+1)-th; within a round tokens go in `priority` order:
    `position` (token order) or `bpr` (Batch Prioritized Routing: descending
    top-1 score, ties keep token order). A choice that finds its expert full
    is dropped. A token none of whose choices survived gets output 0. A token
    whose logits are invalid (a NaN or +Inf, or -Inf everywhere) takes no
    slot and gets output NaN (docs/routers.md §7).

    Exactly one capacity form is required:
    - `capacity_factor = cf`: `C = rounding(S * k * cf / E)`, then rounded up
      to a multiple of `multiple_of` (default `rounding = ceil`,
      `multiple_of = 4`; docs/routers.md §2);
    - `capacity = C`: a fixed number of slots per expert, used as given;
    - `dropless`: no choice is ever dropped; the plan has `C = S` slots per
      expert (the most one expert can receive).

    Options: `score = softmax` (default) | `sigmoid` | `sinkhorn<...>`,
    `renormalize` (the k chosen weights of a token are divided by their sum,
    in the log domain: `exp(log w_i - logsumexp_j log w_j)`, never 0/0).

    ```mlir
    // V-MoE-B/16: 1576 tokens, 8 experts: C = ceil(1576*2*1.05/8) = 414 -> 416.
    %plan = moe.route %logits token_choice<k = 2, capacity_factor = 1.05, priority = bpr>
        : tensor<1x1576x8xf32> -> !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
    // LLM-style: no capacity, renormalised top-2.
    %plan2 = moe.route %l token_choice<k = 2, dropless, renormalize>
        : tensor<1x512x8xf32> -> !moe.plan<groups = 1, tokens = 512, experts = 8, capacity = 512>
    ```
  }];
  let parameters = (ins
    "int64_t":$k,
    OptionalParameter<"::mlir::FloatAttr">:$capacityFactor,
    OptionalParameter<"std::optional<int64_t>">:$capacity,
    "bool":$dropless,
    EnumParameter<MoE_CapacityRounding>:$rounding,
    "int64_t":$multipleOf,
    EnumParameter<MoE_Priority>:$priority,
    "::mlir::Attribute":$score,
    "bool":$renormalize);
}

def MoE_ExpertChoiceAttr : MoE_RouterAttr<"ExpertChoice", "expert_choice"> {
  let summary = "each expert picks its top-C tokens (docs/routers.md §4.2, §4.4)";
  let description = [{
    Every expert ranks the tokens of a group by score and takes the `C` best
    (ties go to the lower token index); slot `c` holds the c-th best. Every
    expert is exactly full (unless the group has fewer than `C` valid tokens:
    invalid ones are never taken, docs/routers.md §7); a token may be taken
    by 0 to E experts. The combine weight of a slot is `softmax(logits)[s, e]`.

    `C = rounding(S * cf / E)` rounded up to a multiple of `multiple_of`
    (`capacity_factor`, defaults `ceil` and 4), or a fixed `capacity`.
    `score = softmax` (default) | `sinkhorn<...>` | `ksparse_ot<...>`.

    ```mlir
    // 196 tokens, 128 experts, cf 1.0, round, multiple 1: C = round(1.53) = 2.
    %plan = moe.route %logits expert_choice<capacity_factor = 1.0, rounding = round, multiple_of = 1>
        : tensor<1x196x128xf32> -> !moe.plan<groups = 1, tokens = 196, experts = 128, capacity = 2>
    ```
  }];
  let parameters = (ins
    OptionalParameter<"::mlir::FloatAttr">:$capacityFactor,
    OptionalParameter<"std::optional<int64_t>">:$capacity,
    EnumParameter<MoE_CapacityRounding>:$rounding,
    "int64_t":$multipleOf,
    "::mlir::Attribute":$score);
}

def MoE_SoftAttr : MoE_RouterAttr<"Soft", "soft"> {
  let summary = "Soft MoE: every slot is a softmax mixture of all tokens (§4.5)";
  let description = [{
    The logits are `L[s, e*p + q]` from `moe.gate` in its normalised form
    (`p` slots per expert). Dispatch weights are `softmax(L)` over the
    tokens of a group (per slot), combine weights `softmax(L)` over all `E*p`
    slots (per token). Nothing is dropped. The plan has `C = p` slots per
    expert.

    Exactly one of `slots_per_expert = p`, or `capacity_factor = cf`, which
    gives `p = round(S * cf / E)` (round half to even, multiple 1; below 1
    is an error; docs/routers.md §4.5).

    ```mlir
    %plan = moe.route %L soft<slots_per_expert = 1>
        : tensor<8x196x128xf32> -> !moe.plan<groups = 8, tokens = 196, experts = 128, capacity = 1>
    // round(196 * 1.3 / 128) = round(1.99) = 2 slots per expert.
    %plan2 = moe.route %L2 soft<capacity_factor = 1.3>
        : tensor<8x196x256xf32> -> !moe.plan<groups = 8, tokens = 196, experts = 128, capacity = 2>
    ```
  }];
  let parameters = (ins OptionalParameter<"std::optional<int64_t>">:$slotsPerExpert,
                        OptionalParameter<"::mlir::FloatAttr">:$capacityFactor);
}

def MoE_PerImageAttr : MoE_RouterAttr<"PerImage", "per_image"> {
  let summary = "one routing decision per image (Mobile V-MoE, §4.6)";
  let description = [{
    The routed item is a run of `tokens_per_item` consecutive tokens (one
    image). Its router logits are pooled: `cls` takes the logits of the item's
    first token, `mean` averages the logits of its tokens (equal to gating the
    mean token, the gate being linear). Softmax token choice with `k` choices
    (position priority) then routes whole items; all tokens of an item go to
    the item's experts, weighted by the item's gate.

    Capacity is counted in items: `dropless` by default, or
    `capacity_factor` (`C_items = rounding(items * k * cf / E)` rounded up to
    `multiple_of`) or a fixed item `capacity`. The plan has
    `C = C_items * tokens_per_item` token slots per expert.

    ```mlir
    // 64 images of 50 tokens in one group; each image to 1 of 10 experts.
    %plan = moe.route %logits per_image<tokens_per_item = 50, k = 1, pooling = mean>
        : tensor<1x3200x10xf32> -> !moe.plan<groups = 1, tokens = 3200, experts = 10, capacity = 3200>
    ```
  }];
  let parameters = (ins
    "int64_t":$tokensPerItem,
    "int64_t":$k,
    EnumParameter<MoE_Pooling>:$pooling,
    OptionalParameter<"::mlir::FloatAttr">:$capacityFactor,
    OptionalParameter<"std::optional<int64_t>">:$capacity,
    EnumParameter<MoE_CapacityRounding>:$rounding,
    "int64_t":$multipleOf);
}

#endif // MOE_DIALECT_MOEATTRS_TD
