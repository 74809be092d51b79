/*===- grid.c - Test artifact: an ABI version 3 entry with a grid ---------===//
 *
 * A hand-written artifact following docs/artifact-abi.md version 3: its
 * entry runs `out[i] = 2 * x[i]` as a grid of 64 workgroups (one element
 * each) through the executor the runtime passes after the status record, and
 * counts in `visits[i]` how often workgroup `i` ran (the executor must run
 * each exactly once). A null executor fills `visits` with -1.
 *
 *===----------------------------------------------------------------------===*/

#include "runtime/moe_executor.h"

#include <stdint.h>

const char moe_signature_json[] =
    "{\"entry\": \"grid\", \"abi\": 3, \"checks\": [],"
    " \"args\": ["
    "  {\"name\": \"x\", \"role\": \"input\", \"dtype\": \"f32\","
    "   \"shape\": [64]}],"
    " \"results\": ["
    "  {\"name\": \"out\", \"dtype\": \"f32\", \"shape\": [64]},"
    "  {\"name\": \"visits\", \"dtype\": \"i64\", \"shape\": [64]}]}";

typedef struct {
  void *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1;

typedef struct {
  const float *x;
  float *out;
  int64_t *visits;
} Captures;

static void workgroup(void *captures, int64_t id) {
  Captures *c = (Captures *)captures;
  c->out[id] = 2.0f * c->x[id];
  __atomic_fetch_add(&c->visits[id], 1, __ATOMIC_RELAXED);
}

void moe_entry(void **args) {
  MemRef1 *x = (MemRef1 *)args[0];
  MemRef1 *out = (MemRef1 *)args[1];
  MemRef1 *visits = (MemRef1 *)args[2];
  const moe_executor *executor = (const moe_executor *)args[4];
  int64_t *v = (int64_t *)visits->aligned;
  for (int64_t i = 0; i < 64; ++i)
    v[i] = executor ? 0 : -1;
  if (!executor)
    return;
  Captures captures = {(const float *)x->aligned, (float *)out->aligned, v};
  executor->run_grid(executor->context, 64, workgroup, &captures);
}
