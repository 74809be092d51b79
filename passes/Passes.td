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

def MoEExpandRoute : Pass<"moe-expand-route"> {
  let summary = "Expand moe.route into routing primitives and a concrete plan";
  let description = [{
    Replaces every `moe.route` by its router's computation (docs/routers.md §4):
    scores in linalg (softmax, sigmoid), the level-2 primitives `moe.topk`,
    `moe.sinkhorn`, `moe.assign_slots` (capacity, rounds, BPR order) and
    `moe.invert_slots`, ending in a concrete layout: `moe.slot_plan` (the
    capacity-padded slot table, index form: no `S x E x C` tensor) for
    token choice, expert choice and per-image routing, `moe.soft_plan`
    (dense dispatch and combine weights) for Soft MoE.

    ```mlir
    // Before
    %p = moe.route %l token_choice<k = 2, capacity = 4, priority = bpr>
        : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
    // After (abridged)
    %gates = linalg.generic ... // softmax
    %v, %i = moe.topk %gates {k = 2 : i64} : ...
    %top1 = tensor.extract_slice %v[0, 0, 0] [1, 8, 1] [1, 1, 1] : ...
    %st, %ts = moe.assign_slots %i priority %top1 : ...
    %w = linalg.generic ... // weights of kept choices
    %p = moe.slot_plan %st, %ts, %w : ... -> !moe.plan<...>
    ```

    The `ksparse_ot` score has no lowering yet: a route using it is reported
    as an error at its location.
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def MoEMaterializePlan : Pass<"moe-materialize-plan"> {
  let summary = "Rewrite dispatch, combine and route_stats onto the plan's layout";
  let description = [{
    Rewrites the users of a concrete plan (`moe.slot_plan`, `moe.soft_plan`)
    onto its tensors:
    - slot table, one op at a time: `moe.dispatch` becomes `moe.gather_rows`
      of the tokens (viewed as `[G * S, d]` rows) into the capacity-padded
      rows (`[E, G * C, d]`, empty slots zero), `moe.combine` becomes
      `moe.scatter_add_rows` (each token sums its own rows in a fixed order:
      deterministic, no atomics);
    - dense soft weights: dispatch and combine become GEMMs per group
      (`linalg.batch_matmul` over the tokens and over the slots, which the
      CPU pipeline tiles like the experts' GEMMs), the slots moved between
      expert-major and group-major order by `linalg.transpose`;
    - `moe.route_stats` becomes linalg reductions (docs/routers.md §5);
    - `moe.plan_slots` reads the slot table (a Soft MoE plan has none: an
      error at the op).
    Plans whose producer is not a concrete layout (run `moe-expand-route`
    first) are an error at the using op.

    A slot-table plan whose `moe.dispatch -> moe.experts (MLP form) ->
    moe.combine` chain has no other users becomes the **expert data path**:
    `moe.gather_rows` fills the rows, two `moe.grouped_matmul` (bias and
    activation as epilogue) run each expert on its rows, and
    `moe.scatter_add_rows` sums each token's rows. The rows are either
    - **padded**: every slot, `G * C` rows per expert (constant offsets
      `[0, G*C, 2*G*C, ...]`), or
    - **sorted**: `moe.sort_slots` squeezes the empty slots out (rows sorted
      by expert, per-expert offsets), so each expert works on its own rows
      only.
    Option `layout`: `padded`, `sorted` or `auto` (default: sorted when the
    slot table has more slots than the plan can fill: token choice, whose
    capacity exceeds the assignments (capacity factor, rounding) or is
    dropless, where the padded layout computes empty slots; padded when every
    slot can be filled, as in expert choice, where it saves the sort). Both
    layouts give the same results.

    ```mlir
    // Before
    %p = moe.slot_plan %st, %ts, %w, %valid : ... -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
    %slots = moe.dispatch %x, %p : tensor<1x8x16xf32>, !moe.plan<...> -> tensor<4x4x16xf32>
    // After
    %index = linalg.generic ... // the token of each padded row, -1 if empty
    %tokens = tensor.collapse_shape %x [[0, 1], [2]] : tensor<1x8x16xf32> into tensor<8x16xf32>
    %rows = moe.gather_rows %tokens[%index] into %empty : tensor<8x16xf32>, tensor<16xi32> into tensor<16x16xf32>
    %slots = tensor.expand_shape %rows [[0, 1], [2]] output_shape [4, 4, 16] : tensor<16x16xf32> into tensor<4x4x16xf32>
    ```
  }];
  let options = [
    Option<"layout", "layout", "std::string", /*default=*/"\"auto\"",
           "Layout of slot-table plans: auto, padded or sorted">
  ];
  let dependentDialects = ["::mlir::moe::MoEDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def MoEFuseExperts : Pass<"moe-fuse-experts"> {
  let summary = "Fuse the expert data path into gather-GEMM-epilogue-GEMM-scatter";
  let description = [{
    Runs on the data path `moe-materialize-plan` leaves (either layout):

    - `moe.gather_rows` feeding a `moe.grouped_matmul` (its only use)
      becomes that GEMM's `gather` operand: the A rows are read by index
      straight from the tokens, and no dispatched `[E, C, d]` copy exists;
    - `moe.scatter_add_rows` of a `moe.grouped_matmul`'s result (its only
      use) moves the combine weights into the GEMM's epilogue: the GEMM
      gets `scale` (the weight of the assignment each row holds, 0 for an
      unused row) and the scatter-add becomes `prescaled`, adding each
      token's rows as they are, in the same fixed order.

    The products and sums are the same operations in the same order, so
    the results are bitwise those of the unfused path. The hidden
    activation between the two GEMMs stays a tensor of the rows: fusing the
    two GEMMs per block of rows would re-read every expert's weights once
    per block (docs/cpu-codegen.md weighs the two).

    ```mlir
    // Before
    %a = moe.gather_rows %tokens[%row_token] into %e0 : ...
    %h = moe.grouped_matmul %a, %w1 offsets %off bias(%b1 : ...) into %e1 {activation = #moe<activation gelu>} : ...
    %y = moe.grouped_matmul %h, %w2 offsets %off bias(%b2 : ...) into %e2 : ...
    %o = moe.scatter_add_rows %y, %token_row, %token_weight into %zeros : ...
    // After
    %h = moe.grouped_matmul %tokens gather(%row_token : ...), %w1 offsets %off bias(%b1 : ...) into %e1 {activation = #moe<activation gelu>} : ...
    %row_weight = scf.for ... // token_weight scattered to the rows
    %y = moe.grouped_matmul %h, %w2 offsets %off bias(%b2 : ...) scale(%row_weight : ...) into %e2 : ...
    %o = moe.scatter_add_rows %y, %token_row, %token_weight into %zeros {prescaled} : ...
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MoELowerToLinalg : Pass<"moe-lower-to-linalg"> {
  let summary = "Lower the remaining moe ops to linalg, tensor and scf";
  let description = [{
    Lowers `moe.gate`, `moe.experts` (MLP and region forms), the routing
    primitives (`moe.topk`, `moe.sinkhorn`, `moe.ksparse_ot`,
    `moe.assign_slots`, `moe.invert_slots`) and the sorted layout's
    `moe.sort_slots` to target-neutral linalg/tensor/scf/arith/math on
    tensors, ready for bufferization by a CPU or GPU pipeline. The slot
    assignment is a parallel formulation with the sequential algorithm's
    exact tables: per round, each token's position among its expert's
    choosers is a prefix sum (Hillis-Steele passes) over the tokens in
    priority order, kept below the capacity; each slot finds its token by a
    binary search of those sums. The expert
    data path (`moe.gather_rows`, `moe.grouped_matmul`,
    `moe.scatter_add_rows`) is replaced by each op's own decomposition
    (`linalg::AggregatedOpInterface`): its meaning lives in the dialect.
    Other ops with such a decomposition, like the `linalg.softmax` of a
    model's dense parts, are decomposed the same way. With `keep-gathers`, `moe.gather_rows` stays (a grouped GEMM's A rows
    become one) for a target's tiling to fuse into what reads them (the CPU
    packs a GEMM's A blocks straight from the tokens); running the pass
    again without it decomposes what is left.

    ```mlir
    // Before
    %rows = moe.gather_rows %x[%index] into %init : tensor<8x16xf32>, tensor<16xi32> into tensor<16x16xf32>
    // After
    %rows = linalg.generic {indexing_maps = [affine_map<(n, i) -> (n)>, affine_map<(n, i) -> (n, i)>],
                            iterator_types = ["parallel", "parallel"]}
        ins(%index : tensor<16xi32>) outs(%init : tensor<16x16xf32>) {
      // tensor.extract %x[%index, i], or 0 for -1
    }
    ```
  }];
  let options = [
    Option<"keepGathers", "keep-gathers", "bool", /*default=*/"false",
           "Leave moe.gather_rows for the target's tiling">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def MoEExpandStridedCopies : Pass<"moe-expand-strided-copies"> {
  let summary = "Turn memref copies of strided views into linalg.copy";
  let description = [{
    After bufferization, a `memref.copy` whose source or target is not a
    contiguous row-major buffer would lower to a call of `memrefCopy` from
    MLIR's C runner utilities, making every artifact depend on that shared
    library. This pass rewrites such copies as `linalg.copy`, which
    `convert-linalg-to-loops` turns into plain loops; contiguous copies stay
    `memref.copy` (they become `llvm.memcpy`). The compiled artifact then
    needs only the C library and libm.

    ```mlir
    // Before
    memref.copy %a, %view : memref<1x8xf32> to memref<1x8xf32, strided<[16, 2], offset: ?>>
    // After
    linalg.copy ins(%a : memref<1x8xf32>) outs(%view : memref<1x8xf32, strided<[16, 2], offset: ?>>)
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def MoECpuLoopOrder : Pass<"moe-cpu-loop-order"> {
  let summary = "Order contraction loops for contiguous inner loops on the CPU";
  let description = [{
    A contraction written with its reduction dimension last (`linalg.generic`
    as produced by `linalg-generalize-named-ops` from `linalg.matmul` and
    `linalg.batch_matmul`, the gate, the grouped GEMMs) lowers to loops whose
    innermost loop walks the reduction: the `B` operand is then read with a
    stride and the loop does not vectorize. This pass interchanges such a
    generic so that the output's last (contiguous) dimension is the
    innermost loop, when an input reads along that dimension as well as along
    a reduction (`B[k, n]`): `(m, n, k) -> (m, k, n)`. Every output element
    still sums its terms in the same order, so results are bit-identical.
    CPU pipeline only; the target-neutral IR keeps its named ops.

    ```mlir
    // Before: loops (b, m, n, k)
    linalg.generic {iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ...
    // After: loops (b, m, k, n)
    linalg.generic {iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ...
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def MoECpuDistribute : Pass<"moe-cpu-distribute"> {
  let summary = "Split linalg ops into scf.forall workgroups for the CPU's threads";
  let description = [{
    Tiles the parallel dimensions of the layer's linalg ops on tensors with
    `scf.forall`; each iteration is a workgroup that
    `moe-cpu-outline-workgroups` turns into one call of a grid the runtime
    runs on its threads (docs/artifact-abi.md, ABI version 3).

    - Expert GEMMs (`linalg.matmul`, `linalg.batch_matmul`; inside the
      grouped GEMM's loop over experts) are split into blocks of `columns`
      output columns. Fused into the same workgroups (upstream
      `tileConsumerAndFuseProducersUsingSCF`): the op that fills their
      accumulator (zeros or the broadcast bias), the element-wise epilogue
      that is the GEMM's only reader (the activation, the row scale; with
      swiglu, which reads two column halves, the GEMM is fused once per
      half), and the gather of A's rows (moving rows is cheap next to the
      block's GEMM, and it leaves the expert loop free of writes, so
      experts x column blocks become one grid). A contraction producing
      an operand is not fused: every column block would recompute it.
    - A GEMM outside loops with few columns (the gate) is also split into
      blocks of at least 64 rows, up to `max-workgroups` workgroups.
    - Every other linalg op outside loops whose static iteration space holds
      at least `2 * min-work` points (gather, combine, gate, scores) is split
      along its outer parallel dimensions into at most `max-workgroups`
      workgroups of at least `min-work` points.

    Reduction dimensions are never split, so each output element is
    computed by one workgroup in the same order as before: results are the
    same for every thread count and every run.

    ```mlir
    // Before
    %h = linalg.batch_matmul ins(%x, %w : tensor<8x64x512xf32>, tensor<8x512x2048xf32>)
                             outs(%bias : tensor<8x64x2048xf32>) -> tensor<8x64x2048xf32>
    %a = linalg.generic {...} ins(%h : ...) outs(...) { gelu } -> tensor<8x64x2048xf32>
    // After (columns = 256): 8 x 8 workgroups
    %a = scf.forall (%e, %n) = (0, 0) to (8, 2048) step (1, 256) shared_outs(%o = ...) {
      %b = linalg.generic ... // this block's bias
      %m = linalg.batch_matmul ins(...) outs(%b : tensor<1x64x256xf32>)
      %g = linalg.generic {...} ins(%m ...) { gelu }
      scf.forall.in_parallel { tensor.parallel_insert_slice %g into %o[%e, 0, %n] ... }
    }
    ```
  }];
  let options = [
    Option<"columns", "columns", "int64_t", /*default=*/"256",
           "output columns of an expert GEMM per workgroup">,
    Option<"minWork", "min-work", "int64_t", /*default=*/"65536",
           "the fewest iteration points of a workgroup of other ops">,
    Option<"maxWorkgroups", "max-workgroups", "int64_t", /*default=*/"64",
           "the most workgroups other ops are split into">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::affine::AffineDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MoECpuOutlineWorkgroups : Pass<"moe-cpu-outline-workgroups", "::mlir::ModuleOp"> {
  let summary = "Turn the entry's scf.forall loops into grids the runtime runs";
  let description = [{
    After bufferization and `convert-linalg-to-loops`: every outermost
    `scf.forall` of the prepared entry becomes a grid of workgroups run by
    the runtime's executor (ABI version 3, docs/artifact-abi.md).

    - The body moves into `func.func private @<entry>_workgroup<N>(%id:
      index, captures...)`, which computes the iteration of workgroup `%id`
      (the flat id delinearized, innermost dimension fastest). Constants are
      rematerialized there; every other value the body uses from outside is
      a capture.
    - The loop becomes `func.call @<entry>_grid<N>(%executor, %count,
      captures...)`, a private declaration carrying
      `moe.grid_workgroup = @<entry>_workgroup<N>`; `moe-lower-grid-launches`
      turns the call into a call of the executor once the module is in the
      LLVM dialect.
    - The entry gets the executor as a new last argument (`!llvm.ptr`), and
      the module the unit attribute `moe.executor` that says so
      (`moe-lower-checks` puts the status record before it).

    A forall whose body, besides ops that only read memory, holds one inner
    forall with bounds defined outside both (the column blocks of each
    expert of the sorted layout) is flattened into one grid over both loops.
    Inner foralls otherwise run as sequential loops inside their workgroup.

    ```mlir
    // Before
    func.func @layer(...) {
      scf.forall (%e, %n) = (0, 0) to (8, 2048) step (1, 256) { ... %w ... }
    }
    // After
    func.func private @layer_workgroup0(%id: index, %w: memref<...>) {
      %n_blocks = ... // 8
      %n = arith.remui %id, %c8 ...
      ...
    }
    func.func private @layer_grid0(!llvm.ptr, index, memref<...>)
        attributes {moe.grid_workgroup = @layer_workgroup0}
    func.func @layer(..., %executor: !llvm.ptr) {
      call @layer_grid0(%executor, %c64, %w) : (!llvm.ptr, index, memref<...>) -> ()
    }
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def MoECpuTileContractions : Pass<"moe-cpu-tile-contractions"> {
  let summary = "Tile matmuls for the CPU's vector registers and vectorize the tiles";
  let description = [{
    Tiles every `linalg.matmul` and `linalg.batch_matmul` on tensors (the
    expert GEMMs of both plan layouts) in two levels and vectorizes the
    innermost tile:

    - cache level: one expert (a `batch_matmul` becomes one `linalg.matmul`
      per expert on collapsed operands) and one `reduction-block` slice of the
      reduction at a time; the expert's `A` block is copied into a contiguous
      buffer, a row per vector;
    - strips: `columns` columns of `C` at a time; the `reduction-block x
      columns` strip of `B` is copied into a contiguous buffer (it stays in
      the L1 cache while the row tiles of `A` stream past it), unless a
      single row tile reads it (Soft MoE's few slots per expert);
    - packed weights (`pack-weights`, default on): a weight argument of the
      prepared entry (moe-prepare-entry) whose every use is such a strip copy,
      at a column offset provably a multiple of `columns`, is passed to the
      entry already packed, `[..., K, N]` as `[..., ceil(N / columns), K,
      columns]`: each strip is then a contiguous slice of it, read in place,
      and the signature records `"strips": columns` for the weight, which
      the runtime packs once when it binds it (artifact ABI version 4);
    - register level: loops `m` (step `rows`), `k` (step 1); the body is one
      `vector.contract` of a `rows x 1` by `1 x columns` operand pair. The
      accumulator (the `rows x columns` tile of `C`) is read before the `k`
      loop, carried through it as a vector (registers) and written after it;
      moe-cpu-lower-vectors turns the contraction into fused multiply-adds.

    A block of a static number of rows is split into as few row tiles as
    `rows` allows, all of the same height where possible (49 rows: 7 tiles
    of 7, not 6 of 8 and one of 1). Row loops whose bound is not a
    multiple of the tile (the sorted layout's ragged expert groups) are
    peeled: full tiles are exact
    static vectors, the last tile uses masked transfers (its contraction
    needs no mask: masked-off rows of `A` read as zeros and are never
    written). A loop no longer than its tile is not tiled. Each element of
    `C` still adds its terms in increasing `k` onto its initial value, so
    results are bit-identical to the untiled loops. A static reduction is
    split into equal blocks of at most `reduction-block` (192: two blocks of
    96), so every block has a static depth. Tile sizes default (0)
    to the registers of `target-cpu` (default: the host): 8 x 32 with
    AVX-512, 6 x 16 with AVX2 and
    FMA, 4 x 8 otherwise; `reduction-block` defaults to 128. Matmuls with
    user-defined indexing maps are left alone.

    ```mlir
    // Before
    %c = linalg.matmul ins(%a, %b : tensor<64x512xf32>, tensor<512x256xf32>)
                       outs(%init : tensor<64x256xf32>) -> tensor<64x256xf32>
    // After (rows = 8, columns = 32, reduction-block = 128)
    scf.for %k0 = %c0 to %c512 step %c128 ... {
      %ap = ... copy of the 64 x 128 block of A, a row at a time ...
      scf.for %n = %c0 to %c256 step %c32 ... {
        %bp = ... copy of the 128 x 32 strip of B, a row at a time ...
        scf.for %m = %c0 to %c64 step %c8 ... {
          %acc = vector.transfer_read ... : tensor<8x32xf32>, vector<8x32xf32>
          %sum = scf.for %k = %c0 to %c128 step %c1 iter_args(%it = %acc) {
            %ta = vector.transfer_read ... : tensor<8x1xf32>, vector<8x1xf32>
            %tb = vector.transfer_read ... : tensor<1x32xf32>, vector<1x32xf32>
            %r = vector.contract {...} %ta, %tb, %it
            scf.yield %r : vector<8x32xf32>
          }
          vector.transfer_write %sum, ...
    ```
  }];
  let options = [
    Option<"rows", "rows", "int64_t", /*default=*/"0",
           "rows of C per register tile (0: from the target CPU)">,
    Option<"columns", "columns", "int64_t", /*default=*/"0",
           "columns of C per register tile (0: from the target CPU)">,
    Option<"reductionBlock", "reduction-block", "int64_t", /*default=*/"0",
           "reduction values per cache block (0: the default, 128)">,
    Option<"targetCpu", "target-cpu", "std::string", /*default=*/"\"host\"",
           "the CPU whose registers pick the tiles rows and columns leave 0: "
           "host (the CPU compiling) or an LLVM CPU name (x86-64-v3, znver4)">,
    Option<"packWeights", "pack-weights", "bool", /*default=*/"true",
           "pass weight arguments read only as strips of B packed in strips "
           "(artifact ABI 4) instead of copying the strips on every call">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::affine::AffineDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

def MoECpuLowerVectors : Pass<"moe-cpu-lower-vectors"> {
  let summary = "Register microkernels from the vector tiles of contractions";
  let description = [{
    Runs after bufferization on the vector tiles of moe-cpu-tile-contractions
    (whose accumulators are already loop-carried vectors). Lowers
    `vector.contract` to `vector.outerproduct` and then to one `vector.fma`
    per accumulator row and reduction step, and lowers n-D transfers (fully
    unrolled into rows), masks, broadcasts and shape casts to 1-D vector
    operations (`vector.load`, `vector.store`, masked loads and stores for
    the remainder tiles) that `convert-vector-to-llvm` maps to the target's
    vector instructions.

    ```mlir
    // Before (on memrefs)
    %c = vector.transfer_read %C[%m, %n] ... : vector<8x32xf32>
    %r = scf.for %k = %c0 to %c128 step %c1 iter_args(%acc = %c) {
      %s = vector.contract {...} %a, %b, %acc
      scf.yield %s : vector<8x32xf32>
    }
    vector.transfer_write %r, %C[%m, %n]
    // After
    %c = ... vector.load %C[...] : vector<32xf32> (x 8)
    %r = scf.for %k = %c0 to %c128 step %c1 iter_args(%acc = %c) {
      ... vector.fma %a_ik, %b_k, %acc_i : vector<32xf32> (x 8)
    }
    ... vector.store (x 8)
    ```
  }];
  let dependentDialects = ["::mlir::vector::VectorDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def MoECpuApproximateMath : Pass<"moe-cpu-approximate-math"> {
  let summary = "Inline polynomial approximations of libm functions (erf, tanh)";
  let description = [{
    Replaces `math.erf` (the exact GELU) and `math.tanh` (GELU's tanh form)
    by MLIR's polynomial approximations (f32 erf: a rational approximation
    on |x| < 4 with the sign restored, 1 beyond; tanh: a rational
    approximation clamped to [-1, 1]; NaN propagates), so that elementwise
    loops contain no calls to libm's scalar `erff`/`tanhf` and vectorize. The approximation's error is below
    the f32 rounding of the GELU's other terms at the 1e-4 relative
    tolerance the reference checks use (docs/routers.md, numerics).

    ```mlir
    // Before
    %e = math.erf %x : f32
    // After
    ... arith.mulf / arith.addf / arith.select (no call) ...
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def MoEGpuLowerDataPath : Pass<"moe-gpu-lower-data-path"> {
  let summary = "Lower moe.grouped_matmul to a tiled GPU kernel (or one thread per result element)";
  let description = [{
    `kernel=tiled` (the default): every `moe.grouped_matmul` of static shapes
    becomes one `gpu.launch` of block tiles, between read-only `to_buffer`s
    of its operands and a `to_tensor` of a new result buffer (a copy of the
    init where rows may lie outside every group). A block computes 64 rows
    of one expert by 64 columns: per step of 16 `k`, the gathered A tile
    (`-1` reads zeros) and the weight tile (both halves with swiglu) go to
    workgroup memory, then each of its 16 x 16 threads adds the products
    to its 4 x 4 accumulators, which start at the bias; the epilogue
    (activation, swiglu, row scale) stores the results in range. Uniform
    groups (the padded layout) have `ceil(C / 64)` row tiles each, found
    by division; ragged groups at most `ceil(N / 64) + E`, found by a walk
    over the offsets, and blocks past the last tile do nothing. `k` is
    summed in increasing order onto the bias, as in the element-wise form.
    The block tiles and the threads (with tensor cores, the warps and their
    lanes) are `scf.forall` loops (`#gpu.block`, `#gpu.thread`, `#gpu.warp`,
    `#gpu.lane`) mapped onto the launch by upstream's
    `transform.gpu.map_forall_to_blocks` and
    `transform.gpu.map_nested_forall_to_threads` as soon as it is built.

    `precision=tf32` (the tiled kernel, f32 results): each step of 16 `k`
    is two steps of `nvgpu.mma.sync` m16n8k8 (f32 inputs read as tf32, f32
    accumulation) per 16 x 8 piece of each warp's 32 x 16 results; the
    order of the sums within a step is the tensor cores'. NVIDIA only: the
    portable variant emulates the steps (`moe-gpu-emulate-mma-sync`).

    First, the named MLP form of `moe.experts` of static shapes (Soft MoE's
    experts on their slots) becomes the same data path: its `[E, M, d]`
    slots as `E * M` rows in uniform groups of `M`, two grouped GEMMs, and
    the rows back as `[E, M, d_out]`.

    `kernel=elementwise` (and any grouped GEMM of dynamic shapes): one
    `linalg.generic` over its result `(r, q)`, all parallel: the body finds
    the row's expert (a division for uniform groups, a search for ragged
    ones), reads the row's A by index, sums `k` in increasing order onto
    the bias and applies the epilogue. Rows outside every group keep the
    init's values.

    ```mlir
    // Before
    %y = moe.grouped_matmul %x gather(%idx : tensor<12xi32>), %w offsets %off
        bias(%b : tensor<4x8xf32>) into %init {activation = #moe<activation gelu>}
        : tensor<6x16xf32>, tensor<4x16x8xf32>, tensor<5xi32> into tensor<12x8xf32>
    // After (kernel=tiled)
    %xb = bufferization.to_buffer %x read_only : tensor<6x16xf32> to memref<6x16xf32>
    ...
    %out = memref.alloc() : memref<12x8xf32>
    gpu.launch blocks(%bx, ...) in (%gx = %c4, ...) threads(%tx, ...) in (%c256, ...) {
      %a = memref.alloc() : memref<16x64xf32, 3>   // the A tile
      %wt = memref.alloc() : memref<16x64xf32, 3>  // the weight tile
      ...
    }
    %y = bufferization.to_tensor %out restrict writable : memref<12x8xf32> to tensor<12x8xf32>
    // After (kernel=elementwise)
    %y = linalg.generic {iterator_types = ["parallel", "parallel"]} outs(%init : tensor<12x8xf32>) {
      // e: the row's expert; sum_k x[idx[r], k] * w[e, k, q] + b[e, q]; gelu
    }
    ```
  }];
  let options = [
    Option<"kernel", "kernel", "std::string", /*default=*/"\"tiled\"",
           "tiled (block tiles of one expert's rows in workgroup memory, a "
           "register micro-tile per thread) or elementwise (one thread per "
           "result element)">,
    Option<"precision", "precision", "std::string", /*default=*/"\"f32\"",
           "f32 (every product an f32 multiply) or tf32 (the tiled kernel's "
           "products on tensor cores, nvgpu.mma.sync with f32 inputs read "
           "as tf32 and f32 accumulation; NVIDIA only)">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::vector::VectorDialect"];
}

def MoEGpuFormKernels : Pass<"moe-gpu-form-kernels", "::mlir::ModuleOp"> {
  let summary = "Turn the bufferized entry into a sequence of GPU kernel launches";
  let description = [{
    After bufferization, with linalg ops lowered to `scf.parallel` nests
    (`convert-linalg-to-parallel-loops`), the prepared entry becomes a
    sequence of `gpu.launch` ops and nothing else that touches memory
    (docs/gpu-codegen.md):

    - every outermost `scf.forall` (a grid of the target-neutral tiling,
      `moe-cpu-distribute`) is a launch of one block per iteration: the
      loop normalized and its dimensions linearized onto the blocks
      (`#gpu.block<linear_dim_*>`, the outermost slowest) by upstream's
      `transform.gpu.map_forall_to_blocks`;
    - every outermost `scf.parallel` nest of constant bounds without
      allocations and of more iterations than `single-block-threads` is a
      grid of one iteration per thread, mapped onto the
      launch's blocks and threads by upstream's
      `transform.gpu.map_forall_to_blocks` and
      `transform.gpu.map_nested_forall_to_threads`;
    - the code between two grids (routing: Sinkhorn's iterations,
      statistics, smaller parallel nests) is a launch of one block of
      `single-block-threads` threads;
    - in a block, every `scf.parallel` nest (and inner `scf.forall`) at the
      block's uniform level is shared out over its `threads` threads by a
      block-stride loop; stores and copies at the uniform level are done by
      thread 0; barriers around both make every write visible to the block;
    - the entry's buffers are slices (`memref.view`) of one workspace, a new
      last argument `memref<Wxi8>` (`moe.workspace_bytes` on the module
      records W); an allocation inside a launch is a slice of the launch's
      scratch area, one per block and per iteration of the uniform loops
      around it, at the size bound of the value-bounds analysis; a buffer
      lives from the first launch that uses it to the last (a scratch area
      in its launch), and buffers that are never alive in the same launch
      share bytes (largest first, each at the lowest offset free over its
      lifetime);
    - a value one launch computes and a later one uses goes through a
      workspace buffer.

    Errors name the op: a grid of a size unknown at entry, an allocation of
    unbounded size or in a loop of unknown trip count, a loop with
    reductions, a write that cannot be shared out.

    ```mlir
    // Before
    scf.forall (%e) in (8) { ... scf.parallel (%i, %j) = ... { ... } }
    // After (threads = 64)
    gpu.launch blocks(%b, %_, %_) in (%gx = %c8, ...) threads(%t, %_, %_) in (%bx = %c64, ...) {
      gpu.barrier
      scf.for %k = %t to %total step %bx { ... }   // %i, %j from %k
      gpu.barrier
      gpu.terminator
    }
    ```
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"64",
           "threads per block of a grid">,
    Option<"singleBlockThreads", "single-block-threads", "int64_t",
           /*default=*/"256",
           "threads of a launch of one block (routing between grids), which "
           "has the whole GPU's work of its loops to share out">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def MoEGpuToSpirv : Pass<"moe-gpu-to-spirv", "::mlir::ModuleOp"> {
  let summary = "Lower the portable GPU kernels to SPIR-V for OpenCL";
  let description = [{
    Upstream's `convert-gpu-to-spirv` for OpenCL kernels (64-bit indices,
    memory spaces mapped to OpenCL storage classes, a `spirv.module` inside
    each `gpu.module`), with what the MoE kernels need besides: math ops as
    OpenCL extended instructions, `memref.view` of the workspace
    (`moe-gpu-form-kernels`) as a pointer to the shifted byte cast to the
    view's element type, `ub.poison`, and each kernel's workgroup size
    (`spirv.entry_point_abi`) taken from its `known_block_size`. Kernels
    must hold memrefs of identity layout (run `fold-memref-alias-ops`
    first). The module needs a `#spirv.target_env` (`spirv-attach-target`).

    ```mlir
    // Before
    %v = memref.view %workspace[%shift][] : memref<4096xi8> to memref<4x8xf32>
    // After
    %p = spirv.PtrAccessChain %bytes[%shift] : !spirv.ptr<i8, CrossWorkgroup>, i64
    %v = spirv.Bitcast %p : !spirv.ptr<i8, CrossWorkgroup> to !spirv.ptr<!spirv.array<32 x f32>, CrossWorkgroup>
    ```
  }];
  let dependentDialects = ["::mlir::spirv::SPIRVDialect",
                           "::mlir::func::FuncDialect"];
}

def MoEGpuExportLaunches : Pass<"moe-gpu-export-launches", "::mlir::ModuleOp"> {
  let summary = "Record the entry's kernel launches as JSON (moe.launches)";
  let description = [{
    After `moe-gpu-form-kernels` and `gpu-kernel-outlining` the entry is a
    list of `gpu.launch_func` ops of constant sizes whose operands are the
    entry's arguments and constants. This pass records the list in the
    module attribute `moe.launches`: the host program a runtime carries out
    in order, each launch naming its kernel, its grid and block sizes and
    its arguments (`{"arg": n}`: the entry's argument n, a device buffer,
    the last one the workspace of `moe.workspace_bytes`; `{"i64": v}`,
    `{"f32": v}`, ...: a constant, index as i64). Anything else in the
    entry is an error.

    ```mlir
    gpu.launch_func @k::@k blocks in (%c4, %c1, %c1) threads in (%c64, %c1, %c1)
        args(%arg0 : memref<8x16xf32>, %c3 : index, %arg2 : memref<4096xi8>)
    // moe.launches: one launch of kernel "k", grid [4, 1, 1], block
    // [64, 1, 1], arguments {"arg": 0}, {"i64": 3}, {"arg": 2}
    ```
  }];
}

def MoEGpuParallelDimsOuter : Pass<"moe-gpu-parallel-dims-outer"> {
  let summary = "Interchange linalg.generic ops so that their parallel dimensions come first (GPU)";
  let description = [{
    A `linalg.generic` with a reduction dimension before a parallel one
    (a column sum over tokens, Sinkhorn's normalisation over tokens) would
    become a sequential loop around a parallel one, which a GPU runs in one
    block with a barrier per iteration. Interchanged so that the parallel
    dimensions come first (each group keeping its order), it becomes a
    parallel loop around sequential reductions: one thread per result,
    each summing its terms in the same order as before (bitwise the same
    results).

    ```mlir
    // Before: sum over s of x[g, s, e]
    linalg.generic {iterator_types = ["parallel", "reduction", "parallel"]} ...
    // After
    linalg.generic {iterator_types = ["parallel", "parallel", "reduction"]} ...
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def MoEGpuUnrollRounds : Pass<"moe-gpu-unroll-rounds", "::mlir::func::FuncOp"> {
  let summary = "Unroll short sequential loops of parallel work into grids (GPU)";
  let description = [{
    A sequential loop at a function's top level becomes one GPU block
    (`moe-gpu-form-kernels`): its parallel work is shared out over that
    block's threads only. Top-k's `k` rounds of an arg-max over the experts
    are such a loop. This pass fully unrolls every top-level `scf.for` of at
    most `max-trip-count` iterations (a constant) whose body holds linalg
    ops, so that each round's ops are top-level ops, each a grid over the
    whole GPU. The rounds run in the same order on the same values: the
    results do not change. Longer loops (Sinkhorn's iterations) and loops
    of scalar code stay as they are.

    ```mlir
    // Before: k = 2 rounds
    %r:3 = scf.for %j = %c0 to %c2 step %c1 iter_args(...) {
      %pick = linalg.generic {iterator_types = ["parallel", "parallel", "reduction"]} ...
      ...
    }
    // After: the body twice, %j = 0 and %j = 1
    %pick0 = linalg.generic ...
    %pick1 = linalg.generic ...
    ```
  }];
  let options = [
    Option<"maxTripCount", "max-trip-count", "int64_t", /*default=*/"8",
           "Unroll loops of at most this many iterations">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def MoEGpuParallelScatters : Pass<"moe-gpu-parallel-scatters"> {
  let summary = "Run scatter loops whose iterations write distinct elements as parallel loops (GPU)";
  let description = [{
    The lowering builds some scatters as sequential loops of inserts and
    marks those whose iterations write distinct elements, and read none
    another writes, with the unit attribute `moe.disjoint_iterations`: the
    inverse of the priority order (a permutation), the rows of the sorted
    layout, the row weights of the combine and the inverse of a slot table.
    After bufferization each is an `scf.for` that stores into its buffer in
    place; this pass makes it an `scf.parallel` of the same bounds and body,
    which `moe-gpu-form-kernels` runs as a grid of one iteration per thread
    instead of on one thread. The results do not change.

    A marked loop that still carries values, or whose body allocates, stays
    sequential. Unmarked loops are never touched.

    ```mlir
    // Before
    scf.for %s = %c0 to %c1576 step %c1 {
      %r = memref.load %rank[%c0, %s] : memref<1x1576xi32>
      %i = arith.index_cast %r : i32 to index
      %v = arith.index_cast %s : index to i32
      memref.store %v, %order[%c0, %i] : memref<1x1576xi32>
    } {moe.disjoint_iterations}
    // After
    scf.parallel (%s) = (%c0) to (%c1576) step (%c1) {
      ...
      memref.store %v, %order[%c0, %i] : memref<1x1576xi32>
      scf.reduce
    }
    ```
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def MoEGpuEmulateMmaSync : Pass<"moe-gpu-emulate-mma-sync"> {
  let summary = "Emulate nvgpu.mma.sync with workgroup memory (the portable variant of tensor-core kernels)";
  let description = [{
    Every `nvgpu.mma.sync` m16n8k8 on f32 of a kernel becomes what the
    warp's tensor cores compute, with the fragment layouts of upstream's
    `nvgpu::getLaneIdAndValueIdToOperandCoord` (the NVGPU lowering's own):
    each lane stores its A elements (a0 at row g, k t; a1 at row g + 8; a2,
    a3 the same at k t + 4) and B elements (b0 at k t, column g; b1 at
    k t + 4) into its warp's 16 x 8 and 8 x 8 matrices in workgroup memory,
    then, after a barrier, computes its accumulators (c0, c1 at row g,
    columns 2t, 2t + 1; c2, c3 at row g + 8), with g = lane / 4 and
    t = lane % 4. Products are exact f32. The OpenCL pipeline runs it, so
    the tensor-core kernels (`moe-to-gpu{precision=tf32}`) run on PoCL
    and the router matrix checks their fragment indexing.

    Kernels need a known one-dimensional block of whole warps and must reach
    every mma.sync with all their threads.

    ```mlir
    // Before
    %d = nvgpu.mma.sync (%a, %b, %c) {mmaShape = [16, 8, 8], tf32Enabled}
        : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
    // After
    memref.store %a0, %A[%warp, %g, %t] : memref<8x16x8xf32, 3>
    ...
    gpu.barrier
    %c0 = ... + %A[%warp, %g, k] * %B[%warp, k, 2 * %t] ...  // k = 0 .. 7
    gpu.barrier
    %d = vector.from_elements %c0, %c1, %c2, %c3 : vector<2x2xf32>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect"];
}

def MoEGpuWorkgroupAttributions : Pass<"moe-gpu-workgroup-attributions"> {
  let summary = "Turn a kernel's workgroup-memory allocs into workgroup attributions (NVVM)";
  let description = [{
    GPU kernels hold their workgroup memory as `memref.alloc`s in address
    space 3 in the kernel's entry block: the form the SPIR-V path (kernels run
    on the CPU through OpenCL, docs/gpu-testing.md) needs, since
    convert-gpu-to-spirv rejects workgroup attributions. On the NVVM path such
    an alloc would become a per-thread `malloc`; this pass makes each one a
    workgroup attribution of its `gpu.func`, which the NVVM lowering places
    in shared memory, and removes its deallocs. An alloc in address space 3
    elsewhere (in a loop or branch), of dynamic shape or with a layout is an
    error.

    ```mlir
    // Before
    gpu.func @k(%in: memref<256xf32>) kernel {
      %shared = memref.alloc() : memref<64xf32, 3>
      ...
    // After
    gpu.func @k(%in: memref<256xf32>) workgroup(%shared : memref<64xf32, 3>) kernel {
      ...
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect"];
}

def MoECpuMergeWorkgroups : Pass<"moe-cpu-merge-workgroups", "::mlir::ModuleOp"> {
  let summary = "Make workgroup functions with the same body one function";
  let description = [{
    A model repeats its blocks, and each grid of each block has a workgroup
    function of its own (moe-cpu-outline-workgroups), so a 12-block ViT would
    hand LLVM twelve copies of every kernel. Workgroup functions whose bodies
    are equivalent (the same ops, attributes and types, their values used
    alike; locations aside) become one: the grid launches of the others
    launch the first, and the copies are erased. Run after moe-lower-checks,
    which numbers a workgroup's checks from an argument (the first code of
    its checks), so that workgroups that differ only in their messages merge.

    ```mlir
    // Before
    func.func private @m_workgroup3(%id: index, %a: memref<64xf32>) attributes {moe.workgroup} { <body> }
    func.func private @m_workgroup9(%id: index, %a: memref<64xf32>) attributes {moe.workgroup} { <the same body> }
    func.func private @m_grid9(!llvm.ptr, index, memref<64xf32>) attributes {moe.grid_workgroup = @m_workgroup9}
    // After: @m_workgroup9 is gone
    func.func private @m_grid9(!llvm.ptr, index, memref<64xf32>) attributes {moe.grid_workgroup = @m_workgroup3}
    ```
  }];
}

def MoESpecializeGroups : Pass<"moe-specialize-groups", "::mlir::func::FuncOp"> {
  let summary = "Compile an entry of a dynamic number of groups for one group";
  let description = [{
    An entry whose inputs have a dynamic first dimension (a batch of any
    size: `tensor<?x224x224x3xf32>`) and whose plans have `groups = ?` is
    compiled for one routing group; the runtime calls it once per group
    (docs/artifact-abi.md, "Any number of groups"). Routing results do not
    change, since capacity and every other routing size are per group.

    The pass first proves that the groups are computed independently. With
    N the inputs' first dimension at run time, every tensor with a dynamic
    dimension holds q * N rows there (a reshape folding 197 tokens into the
    rows multiplies q by 197); the analysis follows q through linalg
    structured ops (the rows indexed by one parallel loop in every operand
    that has them, and in no other), linalg.softmax (not over the rows),
    tensor.empty, collapse/expand_shape (the rows outermost in their group),
    extract/insert_slice (all the rows), tensor.dim, index multiplication and
    division by constants, and the level-1 moe ops, which work group by group.
    Anything else touching such a tensor, a reduction over the rows, two
    routes of differently sized groups, a dynamic weight or a result without
    rows in its first dimension is an error at that op. The unit of a call is
    one routing group.

    Then every dynamic dimension becomes its size for `groups-per-call`
    groups (default 1), the ops that carry sizes are rebuilt static, the
    varying arguments and all results are marked `moe.per_group` and the
    function `moe.groups_per_call`, which moe-prepare-entry records.
    Functions without dynamic arguments are left alone.

    ```mlir
    // Before: any number of images, groups of 2 images of 4 tokens
    func.func @f(%x: tensor<?x4x16xf32> {moe.input = "x"}, ...) -> (tensor<?x4x16xf32>) {
      %c0 = arith.constant 0 : index
      %n = tensor.dim %x, %c0 : tensor<?x4x16xf32>
      %g = arith.divui %n, %c2 : index
      %x3 = tensor.expand_shape ... output_shape [%g, 2, 4, 16] ...
      %x3g = tensor.collapse_shape ... into tensor<?x8x16xf32>
      %logits = moe.gate %x3g, %w : tensor<?x8x16xf32>, tensor<16x4xf32> -> tensor<?x8x4xf32>
      %plan = moe.route %logits token_choice<k = 1, capacity_factor = 1.0>
          : tensor<?x8x4xf32> -> !moe.plan<groups = ?, tokens = 8, experts = 4, capacity = 4>
      ...
    // After: one group (2 images)
    func.func @f(%x: tensor<2x4x16xf32> {moe.input = "x", moe.per_group}, ...)
        -> (tensor<2x4x16xf32> {moe.per_group}) {
      ...
      %plan = moe.route %logits token_choice<k = 1, capacity_factor = 1.0>
          : tensor<1x8x4xf32> -> !moe.plan<groups = 1, tokens = 8, experts = 4, capacity = 4>
    ```
  }];
  let options = [
    Option<"groupsPerCall", "groups-per-call", "int64_t", "1",
           "routing groups per call of the entry: the runtime calls it once "
           "per this many groups, padding the last call with copies of its "
           "last group (more groups per call: larger GEMMs, expert weights "
           "read once per call; fewer: less padding); functions without "
           "dynamic arguments ignore it">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MoEPrepareEntry : Pass<"moe-prepare-entry", "::mlir::ModuleOp"> {
  let summary = "Record the entry function's signature for the artifact ABI";
  let description = [{
    Finds the module's entry (its one public function with a body), records
    its signature (names from `moe.input` / `moe.weight` / `moe.output`,
    roles, dtypes, static shapes, `per_group` where moe-specialize-groups
    marked the tensor) as JSON in the module attribute
    `moe.signature`, and marks it `llvm.emit_c_interface`. Runs on tensors,
    before bufferization. Two tensors with one name, a dynamic shape or a
    module with no or several public functions are errors.

    ```mlir
    // Before
    func.func @f(%x: tensor<2x4xf32> {moe.input = "x"}) -> (tensor<2x4xf32> {moe.output = "y"})
    // After
    // (signature abridged: one object per argument and per result)
    module attributes {moe.entry = @f, moe.signature = "{\"args\":[...],\"entry\":\"f\",...}"} {
      func.func @f(%x: tensor<2x4xf32>) -> tensor<2x4xf32> attributes {llvm.emit_c_interface}
    ```
  }];
}

def MoEInsertIndexChecks : Pass<"moe-insert-index-checks"> {
  let summary = "Check at run time the index tensors a caller passes in";
  let description = [{
    Level-2 ops with index operands (`MoEIndexOperandsInterface`: gather and
    combine rows, the sorted layout's ops, slot assignment) are undefined for
    an index outside the range each op documents. Indices the compiler
    computes are in range by construction; an entry that takes index tensors
    as arguments gets them from the caller. This pass scans each such index
    tensor for its first element outside its range (scalar loops: nothing
    is allocated) and inserts a `moe.check` that stops the entry with a
    message naming the argument, the position, the value and the range:

    ```
    input 'slot_token' holds 9 at [0, 3, 1]: moe.gather_rows at f.mlir:2:8 needs a token of the group in [-1, 8)
    ```

    The caller's index tensors are checked where the entry starts, in
    program order, before anything is allocated (so a failed check leaks
    nothing). `scope=arguments` (the default, part of `moe-to-cpu`) checks
    those; `scope=all` also checks every computed index operand, right
    before its op, to find a pass that produced a bad index
    (`moe-compile --checks`). Runs on tensors, after `moe-materialize-plan`.

    ```mlir
    // Before
    func.func @f(%x: tensor<1x8x4xf32>, %t: tensor<1x2x3xi32>) -> tensor<2x3x4xf32> {
      %s = moe.gather_rows %x, %t : tensor<1x8x4xf32>, tensor<1x2x3xi32> -> tensor<2x3x4xf32>
    // After (abridged)
      %first = scf.for ... iter_args(%least = %none) -> (i64) { ... }  // the least bad flat position
      %bad = arith.cmpi ne, %first, %none : i64
      moe.check %bad, "argument #1 holds {0} at ..." (%v, %i, %j, %k : i32, index, index, index)
      %s = moe.gather_rows %x, %t : ...
    ```
  }];
  let options = [
    Option<"scope", "scope", "std::string", /*default=*/"\"arguments\"",
           "which index operands to check: arguments (entry arguments) or "
           "all">,
  ];
  let dependentDialects = ["::mlir::moe::MoEDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MoECheckAllocations : Pass<"moe-check-allocations"> {
  let summary = "Stop the entry with an error when an allocation fails";
  let description = [{
    After bufferization, follows every `memref.alloc` with a `moe.check` that
    its pointer is not null, so an allocation the system refuses (a huge
    capacity, memory exhausted) is reported by the runtime in one line,
    naming the byte count, the buffer type and the op whose buffer it is,
    instead of the compiled code writing through a null pointer.

    ```mlir
    // Before
    %buf = memref.alloc() {alignment = 64 : i64} : memref<8x416x768xf32>
    // After
    %buf = memref.alloc() {alignment = 64 : i64} : memref<8x416x768xf32>
    %p = memref.extract_aligned_pointer_as_index %buf : memref<8x416x768xf32> -> index
    %null = arith.cmpi eq, %p, %c0 : index
    moe.check %null, "out of memory: cannot allocate 10223616 bytes (memref<8x416x768xf32>) for l1.mlir:12:11"
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def MoELowerChecks : Pass<"moe-lower-checks", "::mlir::ModuleOp"> {
  let summary = "Turn moe.check into early returns through the status record";
  let description = [{
    The entry prepared by `moe-prepare-entry` gets a trailing argument, the
    status record `memref<8xi64>` of ABI version 2 (docs/artifact-abi.md),
    which the runtime zeroes before each call. Every `moe.check` becomes a
    conditional branch: when its condition holds, the entry stores the
    check's number (1-based, into the module's list of check messages) in
    `status[0]` and its values in `status[1..7]`, and returns. The messages
    are recorded in the module attribute `moe.checks` for `moe-emit-entry`,
    which puts them in the signature. With ABI version 3 the record goes
    before the executor argument.

    A check in a workgroup function (`moe-cpu-outline-workgroups`; a failed
    allocation of a packing buffer, say) runs beside other workgroups: the
    function takes the record as a last argument (its grid's launches pass
    it), the first failing workgroup claims the record with an atomic
    compare-and-swap of `status[0]` from 0 and writes its values, every
    failing workgroup returns, and the entry returns after that grid when
    `status[0]` is not 0.

    Runs after `convert-scf-to-cf`; a check outside the entry function and
    its workgroups is an error (inline callees first).

    ```mlir
    // Before
    func.func @f(%out: memref<4xf32>) {
      moe.check %bad, "... {0}" (%v : i64)
      ...
      return
    }
    // After
    func.func @f(%out: memref<4xf32>, %status: memref<8xi64>) {
      cf.cond_br %bad, ^fail, ^continue
    ^fail:
      memref.store %c1, %status[%c0] : memref<8xi64>
      memref.store %v, %status[%c1] : memref<8xi64>
      return
    ^continue:
      ...
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect"];
}

def MoELowerGridLaunches : Pass<"moe-lower-grid-launches", "::mlir::ModuleOp"> {
  let summary = "Turn grid launches into calls of the runtime's executor";
  let description = [{
    In the LLVM dialect, after `convert-func-to-llvm`: every call of a
    declaration marked `moe.grid_workgroup = @fn` (made by
    `moe-cpu-outline-workgroups`) becomes a call through the executor the
    entry received (`struct moe_executor { void *context; void
    (*run_grid)(void *context, int64_t n, void (*workgroup)(void *, int64_t),
    void *captures); }`, runtime/moe_executor.h):

    - the call's captures (every operand after the executor and the count)
      are stored in a record allocated in the caller's entry block;
    - `run_grid(executor->context, count, @fn_thunk, record)` is called,
      where the new internal function `@fn_thunk(ptr, i64)` loads the
      captures from the record and calls `@fn(id, captures...)`.

    The declarations are removed.

    ```mlir
    // Before
    llvm.call @layer_grid0(%executor, %count, %p0, %p1, %off) : (!llvm.ptr, i64, !llvm.ptr, !llvm.ptr, i64) -> ()
    // After
    %rec = llvm.alloca %c1 x !llvm.struct<(ptr, ptr, i64)> : (i64) -> !llvm.ptr
    ... llvm.store %p0, %rec[0, 0] ...
    %ctx = llvm.load %executor[0, 0] ; %run = llvm.load %executor[0, 1]
    %thunk = llvm.mlir.addressof @layer_workgroup0_thunk : !llvm.ptr
    llvm.call %run(%ctx, %count, %thunk, %rec) : !llvm.ptr, (!llvm.ptr, i64, !llvm.ptr, !llvm.ptr) -> ()
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def MoEEmitEntry : Pass<"moe-emit-entry", "::mlir::ModuleOp"> {
  let summary = "Emit moe_entry and moe_signature_json in the LLVM dialect";
  let description = [{
    After conversion to the LLVM dialect, emits the two symbols of the
    artifact ABI (docs/artifact-abi.md): the global
    `moe_signature_json` (the signature recorded by `moe-prepare-entry`) and
    `void moe_entry(ptr %args)`, which loads one memref descriptor pointer
    per argument and result from `%args` and calls the entry's C interface.

    ```mlir
    llvm.mlir.global external constant @moe_signature_json("{...}\00")
    llvm.func @moe_entry(%args: !llvm.ptr) {
      %p0 = llvm.getelementptr %args[0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
      %d0 = llvm.load %p0 : !llvm.ptr -> !llvm.ptr
      llvm.call @_mlir_ciface_f(%d0, ...) : (!llvm.ptr, ...) -> ()
      llvm.return
    }
    ```
  }];
  let options = [
    Option<"targetCpu", "target-cpu", "std::string", /*default=*/"\"host\"",
           "the CPU the code is generated for, recorded with its features as "
           "the signature's `cpu` (docs/artifact-abi.md): host (the CPU "
           "compiling) or an LLVM CPU name (x86-64-v3, znver4)">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // MOE_PASSES_PASSES_TD
