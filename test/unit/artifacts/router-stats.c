/*===- router-stats.c - Test artifact: routing statistics -----------------===//
 *
 * A hand-written artifact following docs/artifact-abi.md with a rank-0
 * argument and i64 and rank-0 results, shaped like a router's statistics:
 *
 *   scaled[t][e]      = logits[t][e] * scale          f32 [6, 3]
 *   expert_load[0][e] = #tokens t with argmax_e scaled[t] == e   i64 [1, 3]
 *   dropped_tokens    = sum_e max(0, expert_load[0][e] - 2)      i64 []
 *   importance_loss   = var_e(imp) / mean_e(imp)^2 with
 *                       imp[e] = sum_t |scaled[t][e]|             f32 []
 *
 * (top-1 routing with capacity 2; ties go to the lower expert).
 *
 *===----------------------------------------------------------------------===*/

#include <stdint.h>

const char moe_signature_json[] =
    "{\"entry\": \"router_stats\","
    " \"args\": ["
    "  {\"name\": \"logits\", \"role\": \"input\", \"dtype\": \"f32\","
    "   \"shape\": [6, 3]},"
    "  {\"name\": \"scale\", \"role\": \"weight\", \"dtype\": \"f32\","
    "   \"shape\": []}],"
    " \"results\": ["
    "  {\"name\": \"scaled\", \"dtype\": \"f32\", \"shape\": [6, 3]},"
    "  {\"name\": \"expert_load\", \"dtype\": \"i64\", \"shape\": [1, 3]},"
    "  {\"name\": \"dropped_tokens\", \"dtype\": \"i64\", \"shape\": []},"
    "  {\"name\": \"importance_loss\", \"dtype\": \"f32\", \"shape\": []}]}";

enum { kTokens = 6, kExperts = 3, kCapacity = 2 };

typedef struct {
  float *allocated, *aligned;
  int64_t offset;
} MemRef0f;
typedef struct {
  int64_t *allocated, *aligned;
  int64_t offset;
} MemRef0i;
typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
} MemRef2f;
typedef struct {
  int64_t *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
} MemRef2i;

void moe_entry(void **args) {
  const MemRef2f *logits = (const MemRef2f *)args[0];
  const MemRef0f *scale = (const MemRef0f *)args[1];
  const MemRef2f *scaled = (const MemRef2f *)args[2];
  const MemRef2i *load = (const MemRef2i *)args[3];
  const MemRef0i *dropped = (const MemRef0i *)args[4];
  const MemRef0f *loss = (const MemRef0f *)args[5];
  float s = scale->aligned[scale->offset];

  float importance[kExperts] = {0};
  int64_t counts[kExperts] = {0};
  for (int64_t t = 0; t < kTokens; ++t) {
    int best = 0;
    for (int e = 0; e < kExperts; ++e) {
      float v = logits->aligned[logits->offset + t * logits->strides[0] +
                                e * logits->strides[1]] *
                s;
      scaled->aligned[t * scaled->strides[0] + e * scaled->strides[1]] = v;
      importance[e] += v < 0 ? -v : v;
      if (v >
          scaled->aligned[t * scaled->strides[0] + best * scaled->strides[1]])
        best = e;
    }
    ++counts[best];
  }

  int64_t drops = 0;
  float mean = 0, var = 0;
  for (int e = 0; e < kExperts; ++e) {
    load->aligned[e * load->strides[1]] = counts[e];
    drops += counts[e] > kCapacity ? counts[e] - kCapacity : 0;
    mean += importance[e] / kExperts;
  }
  for (int e = 0; e < kExperts; ++e)
    var += (importance[e] - mean) * (importance[e] - mean) / kExperts;
  dropped->aligned[0] = drops;
  loss->aligned[0] = var / (mean * mean);
}
