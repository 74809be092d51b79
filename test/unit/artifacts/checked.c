/*===- checked.c - Test artifact: ABI version 2 run-time checks ------------===//
 *
 * A hand-written artifact with the status record of ABI version 2
 * (docs/artifact-abi.md): out[i] = 2 * index[i] for index i32 [4], checking
 * that every index lies in [0, 10). A bad index stops the entry with check 1
 * and the value and position as its values; the index 99 reports status 5,
 * which the signature does not describe.
 *
 *===----------------------------------------------------------------------===*/

#include <stdint.h>

const char moe_signature_json[] =
    "{\"entry\": \"checked\", \"abi\": 2,"
    " \"args\": [{\"name\": \"index\", \"role\": \"input\", \"dtype\": \"i32\","
    "             \"shape\": [4]}],"
    " \"results\": [{\"name\": \"out\", \"dtype\": \"f32\", \"shape\": [4]}],"
    " \"checks\": [\"input 'index' holds {0} at [{1}], outside [0, 10)\","
    "              \"never reported\"]}";

typedef struct {
  int32_t *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1i32;
typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1f;
typedef struct {
  int64_t *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1i64;

void moe_entry(void **args) {
  const MemRef1i32 *index = (const MemRef1i32 *)args[0];
  MemRef1f *out = (MemRef1f *)args[1];
  MemRef1i64 *status = (MemRef1i64 *)args[2];
  for (int64_t i = 0; i < 4; ++i) {
    int32_t v = index->aligned[index->offset + i * index->strides[0]];
    if (v == 99) {
      status->aligned[0] = 5;
      return;
    }
    if (v < 0 || v >= 10) {
      status->aligned[0] = 1;
      status->aligned[1] = v;
      status->aligned[2] = i;
      return;
    }
    out->aligned[out->offset + i * out->strides[0]] = 2.0f * (float)v;
  }
}
