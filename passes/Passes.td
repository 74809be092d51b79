//===- Passes.td - moe transformations and lowerings ---------*- tablegen -*-===//

#ifndef MOE_PASSES_PASSES_TD
#define MOE_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoECanonicalize : Pass<"moe-canonicalize"> {
  let summary = "Apply the moe dialect's canonicalization patterns";
  let description = [{
    Runs the canonicalization patterns of the `moe` operations (and only
    those) to a fixed point, leaving every other dialect's operations as they
    are. Use it to normalise level-1 IR before layout selection without
    folding the surrounding model.

    Patterns:
    - `#moe.per_image<tokens_per_item = 1, ...>` routes single tokens, which
      is token choice: the route becomes `#moe.token_choice` with the same
      `k` and capacity, position priority and softmax score, so one lowering
      serves both.

    ```mlir
    // Before
    %p = moe.route %l per_image<tokens_per_item = 1, k = 2, pooling = cls>
        : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
    // After
    %p = moe.route %l token_choice<k = 2, dropless>
        : tensor<1x64x8xf32> -> !moe.plan<groups = 1, tokens = 64, experts = 8, capacity = 64>
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect"];
}

#endif // MOE_PASSES_PASSES_TD
