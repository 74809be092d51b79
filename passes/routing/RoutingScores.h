//===- RoutingScores.h - What routers rank and weigh by ---------*- C++ -*-===//
//
// The tensor computations behind docs/routers.md that `moe-expand-route`
// composes: which tokens a router routes at all (the non-finite policy of
// §7), the scores top-k ranks, chosen exactly as exact arithmetic would rank
// (logits for the monotone scores, the log-domain Sinkhorn ranking of §4.3),
// and the combine weights, computed so that they never become 0/0.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_ROUTINGSCORES_H
#define MOE_PASSES_ROUTINGSCORES_H

#include "mlir/IR/Builders.h"

namespace mlir::moe {

/// docs/routers.md §7: for `[G, S, N]` logits, whether each token is valid:
/// none of its logits NaN or +Inf, and not all of them -Inf. `[G, S]` i1.
Value validTokens(OpBuilder &b, Location loc, Value logits);

/// `b = S_valid / E` per group (`[G]` of `type`): the column marginal of a
/// transport plan over the group's `valid` (`[G, S]`) tokens.
Value validTokensPerExpert(OpBuilder &b, Location loc, Value valid,
                           int64_t numExperts, FloatType type);

/// `values[g, s, ...]` where `valid[g, s]`, else `replacement`; `values` is
/// `[G, S]` or `[G, S, K]`, `valid` `[G, S]`.
Value whereValid(OpBuilder &b, Location loc, Value valid, Value values,
                 TypedAttr replacement);

/// The sigmoid in its stable form: `1 / (1 + exp(-x))` for `x >= 0`,
/// `exp(x) / (1 + exp(x))` below, so no exp overflows.
Value stableSigmoid(OpBuilder &b, Location loc, Value x);

/// `log sigmoid(x) = -softplus(-x)`, stable for any `x` (f32 tensor).
Value logSigmoid(OpBuilder &b, Location loc, Value x);

/// The Sinkhorn token-choice ranking of docs/routers.md §4.3 from
/// `x[g, s, e] = log u_s + l[s, e] / eps` (-Inf for a token the plan
/// excludes): `-log R[s, e]`, where `P[s, e] = b / (1 + R[s, e])` and
/// `R[s, e] = sum_{s' != s} exp(x[s', e] - x[s, e])`. Ranking it ranks P as
/// exact arithmetic does (b is the same for every entry of a group), without
/// the rounding of `log b - log1p(R)`. The leave-one-out sum is taken
/// without cancellation: over the column shifted by its maximum for the
/// tokens below it, and by its second maximum for the token at it. +Inf where
/// a token is alone in its column (every expert ties at P = b), -Inf where
/// `x` is -Inf (P = 0).
Value sinkhornTokenScores(OpBuilder &b, Location loc, Value x);

} // namespace mlir::moe

#endif // MOE_PASSES_ROUTINGSCORES_H
