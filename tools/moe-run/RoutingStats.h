//===- RoutingStats.h - moe-run --stats -------------------------*- C++ -*-===//
//
// MoE layers compiled with statistics return them as results with fixed names
// (the outputs of moe.route_stats): `expert_load` (tokens per expert, [E] or
// [groups, E]), `dropped_tokens`, `dropped_assignments` and `importance_loss`.
// --stats prints whichever the model has: the load as a per-expert table
// summed over groups, the others as values.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_ROUTINGSTATS_H
#define MOE_TOOLS_MOE_RUN_ROUTINGSTATS_H

#include "runtime/Model.h"

#include <ostream>

namespace moe {

/// Prints the routing statistics among the results of `model`'s last run.
void printRoutingStats(const Model &model, std::ostream &os);

} // namespace moe

#endif // MOE_TOOLS_MOE_RUN_ROUTINGSTATS_H
