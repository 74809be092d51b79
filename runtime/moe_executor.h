/*===- moe_executor.h - How an artifact runs grids of workgroups ---*- C -*-===
 *
 * From ABI version 3 (docs/artifact-abi.md) a compiled entry runs its
 * parallel work as grids of independent workgroups, which it hands to the
 * runtime through this record: `args[A + R + 1]` of `moe_entry` points to a
 * `moe_executor`. The entry calls `run_grid(context, n, workgroup, captures)`
 * and the runtime calls `workgroup(captures, i)` once for every `i` in
 * `[0, n)`, on any of its threads, in any order, returning when all have
 * finished. Workgroups of one grid write disjoint memory, so results do not
 * depend on the number of threads or on the order.
 *
 * Plain C, no dependencies: producers of artifacts and other runtimes can
 * include it.
 *
 *===----------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_MOE_EXECUTOR_H
#define MOE_RUNTIME_MOE_EXECUTOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One workgroup of a grid: `captures` is what the entry passed to run_grid,
 * `id` the workgroup's index in [0, n). */
typedef void (*moe_workgroup_fn)(void *captures, int64_t id);

typedef struct moe_executor {
  /* The runtime's own state (a thread pool), passed back to run_grid. */
  void *context;
  /* Runs workgroup(captures, i) for every i in [0, workgroups); returns when
   * every call has returned. */
  void (*run_grid)(void *context, int64_t workgroups,
                   moe_workgroup_fn workgroup, void *captures);
} moe_executor;

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_MOE_EXECUTOR_H */
