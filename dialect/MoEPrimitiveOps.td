//===- MoEPrimitiveOps.td - Level-2 moe operations -----------*- tablegen -*-===//
//
// Level 2 says *how*: the routing primitives `moe-expand-route` produces from
// `moe.route`, the concrete plan layouts `moe-materialize-plan` chooses, the
// sorted layout's row tables, and the expert data path shared by both
// layouts (gather, grouped GEMM with gather and epilogue, scatter-add), which
// is destination-style and tileable. Every op is on tensors and
// target-neutral; `moe-lower-to-linalg` lowers them to linalg/tensor/scf.
//
// Slot indices: a slot of expert `e` in the capacity-padded layout is
// written as the flat index `e * C + c` (`C` slots per expert and group);
// `-1` marks an empty slot or a dropped choice. Index operands must hold
// values in the range each op documents (MoEIndexOperandsInterface); a value
// outside it is undefined behaviour, which `moe-insert-index-checks` turns
// into a run-time error for index tensors that come from the caller.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEPRIMITIVEOPS_TD
#define MOE_DIALECT_MOEPRIMITIVEOPS_TD

include "dialect/MoEIndexOperandsInterface.td"
include "mlir/Dialect/Linalg/IR/LinalgInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/TilingInterface.td"

// An op with index operands (MoEIndexOperandsInterface.td).
defvar MoE_IndexesWithOperands =
    DeclareOpInterfaceMethods<MoE_IndexOperandsInterface>;

def MoE_F32Tensor : RankedTensorOf<[F32]>;
def MoE_I32Tensor : RankedTensorOf<[I32]>;

//===----------------------------------------------------------------------===//
// Routing primitives
//===----------------------------------------------------------------------===//

def MoE_F32OrF64Tensor3D : RankedTensorOf<[F32, F64], [HasAnyRankOfPred<[3]>]>;

def MoE_TopKOp : MoE_Op<"topk", [Pure, AllElementTypesMatch<["input", "values"]>]> {
  let summary = "the k largest entries along the last dimension";
  let description = [{
    For every row of the last dimension of a `[G, R, N]` tensor (f32 or
    f64), the `k` largest values in descending order and their indices.
    Ties go to the lower index (docs/routers.md §1), so the result is
    deterministic. NaN is ordered below every number.

    ```mlir
    %values, %indices = moe.topk %gates {k = 2 : i64}
        : tensor<1x400x8xf32> -> tensor<1x400x2xf32>, tensor<1x400x2xi32>
    ```
  }];
  let arguments = (ins MoE_F32OrF64Tensor3D:$input, ConfinedAttr<I64Attr, [IntMinValue<1>]>:$k);
  let results = (outs MoE_F32OrF64Tensor3D:$values,
                      RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$indices);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($values) `,` type($indices)
  }];
  let hasVerifier = 1;
}

def MoE_SinkhornOp : MoE_Op<"sinkhorn", [Pure]> {
  let summary = "the token scaling of the balanced Sinkhorn transport plan";
  let description = [{
    Per group of `[G, S, E]` logits (docs/routers.md §4.3): with
    `K = exp(l / epsilon)`, marginals `a = 1` over the group's valid tokens
    and `b = (S_valid / E) 1_E`, and `v = 1`, `iterations` times
    `u = a / (K v); v = b / (K^T u)`, in the log domain (no overflow for any
    logit). The result is `log u`, `[G, S]`: the plan is
    `P = diag(u) K diag(v)`, and since every iteration ends with the `v`
    update, `P[s, e] = b * u_s K[s, e] / sum_s' u_s' K[s', e]`, so `log u`
    and the logits are all that ranking `P` needs (token choice ranks
    `-log R` of `RoutingScores.h`, expert choice `log u_s + l[s, e] / eps`).

    Tokens whose logits are invalid (a NaN or +Inf, or -Inf everywhere;
    docs/routers.md §7) are left out of the plan as if absent: their `log u`
    is -Inf. An expert whose logits are -Inf for every valid token gets no
    mass (`v = 1`). Computed in f32.

    ```mlir
    %log_u = moe.sinkhorn %logits {iterations = 20 : i64, epsilon = 1.0 : f64}
        : tensor<1x1576x8xf32> -> tensor<1x1576xf32>
    ```
  }];
  let arguments = (ins MoE_F32Tensor3D:$logits,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$iterations,
                       F64Attr:$epsilon);
  let results = (outs RankedTensorOf<[F32], [HasAnyRankOfPred<[2]>]>:$log_u);
  let assemblyFormat = "$logits attr-dict `:` type($logits) `->` type($log_u)";
  let hasVerifier = 1;
}

def MoE_KSparseOTOp : MoE_Op<"ksparse_ot", [Pure]> {
  let summary = "the sparsity-constrained transport plan of router logits";
  let description = [{
    Per group of `[G, S, E]` logits (docs/routers.md §4.4): similarity
    `sim = softmax(l)` over experts, cost `-sim`, marginals `a = 1_S`,
    `b = (S/E) 1_E`, quadratic regularisation `gamma = 1`. Starting from
    token potentials `alpha = 0`, `iterations` bias-corrected Adam steps
    (learning rate `learning_rate`, betas 0.9 and 0.999, eps 1e-8) on the
    semi-dual with gradient `sum_e b_e p*_e - a`, where `p*_e` projects
    `(alpha + sim[:, e]) / b_e` onto the `capacity`-sparse simplex (its
    `capacity` largest entries, ties to the lower token, projected onto the
    probability simplex, the rest 0). The result is `P[:, e] = b_e p*_e`
    with the final `alpha`: at most `capacity` non-zeros per expert, each
    column summing to `S/E`.

    Computed, and returned, in f64: expert choice then takes the top-C
    tokens of each column, and ties among them (the zeros above all) must
    be decided on exact values.

    ```mlir
    %P = moe.ksparse_ot %logits {capacity = 52 : i64, iterations = 20 : i64,
                                 learning_rate = 1.0e-02 : f64}
        : tensor<1x1568x32xf32> -> tensor<1x1568x32xf64>
    ```
  }];
  let arguments = (ins MoE_F32Tensor3D:$logits,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$capacity,
                       ConfinedAttr<I64Attr, [IntMinValue<1>]>:$iterations,
                       F64Attr:$learning_rate);
  let results = (outs RankedTensorOf<[F64], [HasAnyRankOfPred<[3]>]>:$plan);
  let assemblyFormat = "$logits attr-dict `:` type($logits) `->` type($plan)";
  let hasVerifier = 1;
}

def MoE_AssignSlotsOp : MoE_Op<"assign_slots", [Pure, MoE_IndexesWithOperands]> {
  let summary = "token-choice slot assignment with capacity and priority";
  let description = [{
    Fills `C` slots per expert in rounds (docs/routers.md §4.1): every token's
    r-th choice `experts[g, s, r]` before anyone's (r+1)-th; within a round,
    tokens in priority order: token order, or, with a `priority` operand,
    descending priority with ties in token order (Batch Prioritized Routing).
    A choice that finds its expert full is dropped.
    A choice of expert `-1` takes no slot (its `token_slot` is `-1`): that is
    how an invalid token (docs/routers.md §7) stays out of every expert.

    Results: `slot_token[g, e, c]`, the token in slot `c` of expert `e`
    (`-1` if empty), and `token_slot[g, s, r]`, the flat slot `e * C + c` of
    the token's r-th choice (`-1` if dropped).
    `experts` must hold `-1` or an expert `[0, E)`.

    ```mlir
    %slot_token, %token_slot = moe.assign_slots %experts priority %top1
        : tensor<1x1576x2xi32>, tensor<1x1576xf32>
        -> tensor<1x8x416xi32>, tensor<1x1576x2xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$experts,
                       Optional<RankedTensorOf<[F32], [HasAnyRankOfPred<[2]>]>>:$priority);
  let results = (outs RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$slot_token,
                      RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$token_slot);
  let assemblyFormat = [{
    $experts (`priority` $priority^)? attr-dict `:` type($experts)
    (`,` type($priority)^)? `->` type($slot_token) `,` type($token_slot)
  }];
  let hasVerifier = 1;
}

def MoE_InvertSlotsOp : MoE_Op<"invert_slots", [Pure, MoE_IndexesWithOperands]> {
  let summary = "from the token of each slot to the slot of each token";
  let description = [{
    For expert choice, where an expert may take a token once and a token may
    be taken by any number of experts: `token_slot[g, s, e] = e * C + c` if
    `slot_token[g, e, c] = s`, else `-1`. The result is `[G, S, E]`, never
    `S x E x C`.
    `slot_token` must hold `-1` or a token of the group, `[0, S)`, and a
    token at most once per expert (each slot then writes its own element of
    the result, so targets may fill them at once; which slot a repeated
    token would get is unspecified).

    ```mlir
    %token_slot = moe.invert_slots %slot_token
        : tensor<1x32x52xi32> -> tensor<1x1568x32xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$slot_token);
  let results = (outs RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$token_slot);
  let assemblyFormat = [{
    $slot_token attr-dict `:` type($slot_token) `->` type($token_slot)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Concrete plan layouts
//===----------------------------------------------------------------------===//

def MoE_SlotPlanOp : MoE_Op<"slot_plan", [Pure]> {
  let summary = "a plan in the capacity-padded slot-table layout";
  let description = [{
    Packs a sparse routing plan: `slot_token` `[G, E, C]` (token of each
    slot, `-1` empty), `token_slot` `[G, S, J]` (flat slot `e * C + c` of
    each of a token's `J` assignments, `-1` none), `token_weight`
    `[G, S, J]` (the combine weight of each assignment) and `token_valid`
    `[G, S]` (whether the router routed the token at all: false for an
    invalid token, docs/routers.md §7, which takes no slot and whose weights
    are NaN). `moe-materialize-plan` rewrites the dispatch, combine and
    statistics of the plan onto these tensors.

    Token choice (and per-image routing) has `J = k`: a token's own choices,
    of which `-1` ones were dropped. With `expert_choice`, `J = E` and
    `token_slot[g, s, e]` says whether expert `e` took the token: nothing
    was dropped, a `-1` is just an expert that did not pick it.

    ```mlir
    %plan = moe.slot_plan %slot_token, %token_slot, %token_weight, %token_valid
        : tensor<1x8x416xi32>, tensor<1x1576x2xi32>, tensor<1x1576x2xf32>, tensor<1x1576xi1>
        -> !moe.plan<groups = 1, tokens = 1576, experts = 8, capacity = 416>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$slot_token,
                       RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$token_slot,
                       MoE_F32Tensor3D:$token_weight,
                       RankedTensorOf<[I1], [HasAnyRankOfPred<[2]>]>:$token_valid,
                       UnitAttr:$expert_choice);
  let results = (outs MoE_PlanType:$plan);
  let assemblyFormat = [{
    $slot_token `,` $token_slot `,` $token_weight `,` $token_valid attr-dict `:`
    type($slot_token) `,` type($token_slot) `,` type($token_weight) `,`
    type($token_valid) `->` qualified(type($plan))
  }];
  let hasVerifier = 1;
}

def MoE_SoftPlanOp : MoE_Op<"soft_plan", [Pure]> {
  let summary = "a plan in the dense Soft MoE layout";
  let description = [{
    Packs the dense weights of Soft MoE: `dispatch` and `combine`, both
    `[G, S, E * C]` (docs/routers.md §4.5), and `token_valid` `[G, S]`.
    Dispatch and combine of the plan become small matrix products; an
    invalid token (docs/routers.md §7) has dispatch weight 0 in every slot,
    is left out of the dispatch sums (its features may be NaN), and has NaN
    combine weights.

    ```mlir
    %plan = moe.soft_plan %dispatch, %combine, %token_valid
        : tensor<8x196x128xf32>, tensor<8x196x128xf32>, tensor<8x196xi1>
        -> !moe.plan<groups = 8, tokens = 196, experts = 128, capacity = 1>
    ```
  }];
  let arguments = (ins MoE_F32Tensor3D:$dispatch, MoE_F32Tensor3D:$combine,
                       RankedTensorOf<[I1], [HasAnyRankOfPred<[2]>]>:$token_valid);
  let results = (outs MoE_PlanType:$plan);
  let assemblyFormat = [{
    $dispatch `,` $combine `,` $token_valid attr-dict `:` type($dispatch) `,`
    type($combine) `,` type($token_valid) `->` qualified(type($plan))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The sorted (ragged) layout's row tables
//===----------------------------------------------------------------------===//

def MoE_SortSlotsOp : MoE_Op<"sort_slots", [Pure, MoE_IndexesWithOperands]> {
  let summary = "compact a slot table into rows sorted by expert";
  let description = [{
    The sorted/ragged layout of a plan: its occupied slots as `N` rows,
    sorted by expert, then group, then slot (the order of the
    capacity-padded layout with the empty slots squeezed out), so the rows
    of expert `e` are `[expert_offsets[e], expert_offsets[e + 1])`.
    - `row_token[r]`: the token of row `r` as a flat index `g * S + s`, or
      `-1` for the rows past `expert_offsets[E]` (unused);
    - `expert_offsets`: `E + 1` prefix sums of the per-expert row counts;
    - `token_row[g, s, j]`: the row of the token's assignment `j` (`-1` if
      `token_slot[g, s, j]` is `-1`).

    `N` must be at least the number of slots the plan can fill,
    `min(G * S * J, G * E * C)`. Dropless token choice fills `G * S * k`
    rows of a `G * E * S` slot table: the sorted layout does `k / E` of the
    padded layout's expert work.

    `slot_token` must hold `-1` or a token of the group `[0, S)`,
    `token_slot` `-1` or a flat slot `[0, E * C)`.

    ```mlir
    %row_token, %offsets, %token_row = moe.sort_slots %slot_token, %token_slot
        : tensor<1x8x196xi32>, tensor<1x196x2xi32>
        -> tensor<392xi32>, tensor<9xi32>, tensor<1x196x2xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$slot_token,
                       RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$token_slot);
  let results = (outs RankedTensorOf<[I32], [HasAnyRankOfPred<[1]>]>:$row_token,
                      RankedTensorOf<[I32], [HasAnyRankOfPred<[1]>]>:$expert_offsets,
                      RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$token_row);
  let assemblyFormat = [{
    $slot_token `,` $token_slot attr-dict `:` type($slot_token) `,`
    type($token_slot) `->` type($row_token) `,` type($expert_offsets) `,`
    type($token_row)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The expert data path: destination-style and tileable
//===----------------------------------------------------------------------===//
//
// Gather, grouped GEMM and scatter-add are the data path of both plan
// layouts (the capacity-padded slot table: one group of `G * C` rows per
// expert; the sorted layout: ragged groups). They are destination-style
// (`into %init`), implement the upstream TilingInterface (so
// `scf::tileUsingSCF`, `tileConsumerAndFuseProducersUsingSCF` and
// `scf.forall` apply) and `ReifyRankedShapedTypeOpInterface`, and carry their
// meaning as a decomposition into linalg, tensor and scf
// (`linalg::AggregatedOpInterface`, what `moe-lower-to-linalg` calls).

// The interfaces every data-path op implements.
defvar MoE_DataPathInterfaces = [
    Pure, MoE_IndexesWithOperands,
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<ReifyRankedShapedTypeOpInterface,
                              ["reifyResultShapes"]>,
    DeclareOpInterfaceMethods<TilingInterface,
        ["getLoopIteratorTypes", "getIterationDomain", "getTiledImplementation",
         "getResultTilePosition", "generateResultTileValue"]>,
    DeclareOpInterfaceMethods<AggregatedOpInterface, ["decomposeOperation"]>];

def MoE_FloatTensor2D : RankedTensorOf<[AnyFloat], [HasAnyRankOfPred<[2]>]>;
def MoE_I32Tensor1D : RankedTensorOf<[I32], [HasAnyRankOfPred<[1]>]>;

def MoE_GatherRowsOp : MoE_Op<"gather_rows",
    !listconcat(MoE_DataPathInterfaces, [AllTypesMatch<["init", "result"]>])> {
  let summary = "rows of a matrix picked by index";
  let description = [{
    `result[n, i] = input[index[n], i]`, or `0` where `index[n]` is `-1`:
    the dispatch of tokens (`input`, the `[G * S, d]` tokens of every group)
    to expert rows. `index` must hold `-1` or a row of `input`
    (`[0, T)`). Destination-style: `result` has the type of `init`, whose
    values are not read.

    Iteration space: `(n, i)`, both parallel; a tile reads the tile's
    slice of `index` and the columns of every row of `input`.

    ```mlir
    %rows = moe.gather_rows %x[%row_token] into %init
        : tensor<196x192xf32>, tensor<392xi32> into tensor<392x192xf32>
    ```
  }];
  let arguments = (ins MoE_FloatTensor2D:$input, MoE_I32Tensor1D:$index,
                       MoE_FloatTensor2D:$init);
  let results = (outs MoE_FloatTensor2D:$result);
  let assemblyFormat = [{
    $input `[` $index `]` `into` $init attr-dict `:` type($input) `,`
    type($index) `into` type($init)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getInitMutable();
    }
  }];
}

def MoE_GroupedMatmulOp : MoE_Op<"grouped_matmul",
    !listconcat(MoE_DataPathInterfaces,
                [AttrSizedOperandSegments,
                 // (Not AllTypesMatch: its inferred form indexes the operands
                 // as if every optional one were present.)
                 TypesMatchWith<"the result has the init's type", "result",
                                "init", "$_self">])> {
  let summary = "per-expert matrix products over row groups, with gather and epilogue";
  let description = [{
    The experts' GEMMs. Row `r` of the result belongs to expert `e` when
    `offsets[e] <= r < offsets[e + 1]` (`offsets`, `E + 1` non-decreasing
    values in `[0, N]`); for such a row:

    ```
    a[r]      = gather ? (gather[r] < 0 ? 0 : input[gather[r]]) : input[r]
    z[r]      = a[r] @ weight[e] (+ bias[e])
    result[r] = act(z[r]) (* scale[r])
    ```

    summed over `k` in increasing order onto the bias (or 0). `act` is the
    optional `activation`; with `swiglu` the result has half the weight's
    `P` columns: `silu(z[:, :P/2]) * z[:, P/2:]`. `scale` (f32, one per row)
    is the router weight of the row's assignment: multiplying in the
    epilogue is how the down projection weights what it hands to the
    combine. Rows outside every group keep `init`'s values; nothing else of
    `init` is read.

    - `input`: `[N, K]`, or any `[T, K]` with `gather` (`[N]`, `-1` or a row
      `[0, T)`): the A rows are then taken by index straight from the
      tokens, with no gathered copy;
    - `weight` `[E, K, P]`, `bias` `[E, P]`, `scale` `[N]`;
    - the capacity-padded layout has uniform groups (`offsets[e] = e * C`
      with `C = N / E`); the sorted layout ragged ones.

    Iteration space: `(r, q)` parallel (`q` a result column), `k` a
    reduction that is never split (the epilogue needs the whole sum). A
    row tile is the same op on the tile's rows with the offsets shifted and
    clamped to it; a column tile takes the weight's and bias's columns
    (both halves' with `swiglu`).

    The optional operands carry their types where they are written:

    ```mlir
    %h = moe.grouped_matmul %x gather(%row_token : tensor<392xi32>), %w1
        offsets %offsets bias(%b1 : tensor<8x768xf32>) into %h_init
        {activation = #moe<activation gelu>}
        : tensor<196x192xf32>, tensor<8x192x768xf32>, tensor<9xi32>
          into tensor<392x768xf32>
    %y = moe.grouped_matmul %h, %w2 offsets %offsets
        bias(%b2 : tensor<8x192xf32>) scale(%row_weight : tensor<392xf32>)
        into %y_init
        : tensor<392x768xf32>, tensor<8x768x192xf32>, tensor<9xi32>
          into tensor<392x192xf32>
    ```
  }];
  let arguments = (ins MoE_FloatTensor2D:$input,
                       Optional<MoE_I32Tensor1D>:$gather,
                       MoE_FloatTensor3D:$weight,
                       MoE_I32Tensor1D:$offsets,
                       Optional<MoE_FloatTensor2D>:$bias,
                       Optional<RankedTensorOf<[F32], [HasAnyRankOfPred<[1]>]>>:$scale,
                       MoE_FloatTensor2D:$init,
                       OptionalAttr<MoE_ActivationAttr>:$activation);
  let results = (outs MoE_FloatTensor2D:$result);
  let assemblyFormat = [{
    $input (`gather` `(` $gather^ `:` type($gather) `)`)? `,` $weight
    `offsets` $offsets (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`scale` `(` $scale^ `:` type($scale) `)`)? `into` $init attr-dict `:`
    type($input) `,` type($weight) `,` type($offsets) `into` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getInitMutable();
    }
    /// The number of experts.
    int64_t getNumExperts() { return getWeight().getType().getDimSize(0); }
  }];
}

def MoE_ScatterAddRowsOp : MoE_Op<"scatter_add_rows",
    !listconcat(MoE_DataPathInterfaces, [AllTypesMatch<["init", "result"]>])> {
  let summary = "weighted sum of expert rows into their tokens, in a fixed order";
  let description = [{
    The combine: every token receives the rows of its assignments, weighted,

    ```
    result[g, s, :] = init[g, s, :] + sum over j = 0, 1, ... of
        token_row[g, s, j] >= 0 ? token_weight[g, s, j] * rows[token_row[g, s, j], :]
                                : token_weight[g, s, j] * 0
    ```

    added in increasing `j`: each token sums its own rows, so the result
    never depends on tiling or threads, and no float atomics are needed.
    With `prescaled`, the rows already carry their weight (the down
    projection's `scale` epilogue) and a kept assignment adds its row as it
    is. An assignment without a row adds `token_weight * 0`: nothing, except
    that an invalid token's NaN weights (docs/routers.md §7) make its
    result NaN. `token_row` must hold `-1` or a row of `rows` (`[0, N)`).

    Iteration space: `(g, s, i)`, all parallel (`j` is summed inside).

    ```mlir
    %out = moe.scatter_add_rows %y, %token_row, %token_weight into %zeros
        {prescaled} : tensor<392x192xf32>, tensor<1x196x2xi32>,
        tensor<1x196x2xf32> into tensor<1x196x192xf32>
    ```
  }];
  let arguments = (ins MoE_FloatTensor2D:$rows,
                       RankedTensorOf<[I32], [HasAnyRankOfPred<[3]>]>:$token_row,
                       MoE_F32Tensor3D:$token_weight,
                       MoE_FloatTensor3D:$init,
                       UnitAttr:$prescaled);
  let results = (outs MoE_FloatTensor3D:$result);
  let assemblyFormat = [{
    $rows `,` $token_row `,` $token_weight `into` $init attr-dict `:`
    type($rows) `,` type($token_row) `,` type($token_weight) `into`
    type($init)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getInitMutable();
    }
  }];
}

#endif // MOE_DIALECT_MOEPRIMITIVEOPS_TD
