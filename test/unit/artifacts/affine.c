/*===- affine.c - Test artifact: out = x * w + bias -----------------------===//
 *
 * A hand-written artifact following docs/artifact-abi.md, standing in for
 * moe-compile output: one rank-3 input, rank-2 and rank-1 weights that
 * broadcast over it, and one result:
 *
 *   out[i][j][k] = x[i][j][k] * w[j][k] + bias[k]
 *
 * It reads every operand through its descriptor's offset and strides, as
 * compiled code does, and checks that the runtime passed exactly the static
 * shapes, dense row-major strides and 64-byte aligned buffers it promises; if
 * not, it fills `out` with NaN so the tests see the violation.
 *
 *===----------------------------------------------------------------------===*/

#include <stdint.h>

const char moe_signature_json[] =
    "{\"entry\": \"affine\","
    " \"args\": ["
    "  {\"name\": \"x\", \"role\": \"input\", \"dtype\": \"f32\","
    "   \"shape\": [2, 3, 4]},"
    "  {\"name\": \"w\", \"role\": \"weight\", \"dtype\": \"f32\","
    "   \"shape\": [3, 4]},"
    "  {\"name\": \"bias\", \"role\": \"weight\", \"dtype\": \"f32\","
    "   \"shape\": [4]}],"
    " \"results\": ["
    "  {\"name\": \"out\", \"dtype\": \"f32\", \"shape\": [2, 3, 4]}]}";

typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1;
typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
} MemRef2;
typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[3], strides[3];
} MemRef3;

/* Whether `sizes`/`strides` are the dense row-major layout of `shape`. */
static int isDense(int rank, const int64_t *sizes, const int64_t *strides,
                   const int64_t *shape) {
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    if (sizes[i] != shape[i] || strides[i] != stride)
      return 0;
    stride *= shape[i];
  }
  return 1;
}

static int isAligned(const float *allocated, const float *aligned,
                     int64_t offset) {
  return allocated == aligned && offset == 0 && (uintptr_t)aligned % 64 == 0;
}

void moe_entry(void **args) {
  const MemRef3 *x = (const MemRef3 *)args[0];
  const MemRef2 *w = (const MemRef2 *)args[1];
  const MemRef1 *bias = (const MemRef1 *)args[2];
  const MemRef3 *out = (const MemRef3 *)args[3];
  static const int64_t xShape[] = {2, 3, 4}, wShape[] = {3, 4},
                       biasShape[] = {4};

  if (!isDense(3, out->sizes, out->strides, xShape) ||
      !isAligned(out->allocated, out->aligned, out->offset))
    return; /* nowhere safe to write; the zero-filled result fails tests */
  int valid = isDense(3, x->sizes, x->strides, xShape) &&
              isDense(2, w->sizes, w->strides, wShape) &&
              isDense(1, bias->sizes, bias->strides, biasShape) &&
              isAligned(x->allocated, x->aligned, x->offset) &&
              isAligned(w->allocated, w->aligned, w->offset) &&
              isAligned(bias->allocated, bias->aligned, bias->offset);

  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) {
        float value = 0.0f / 0.0f;
        if (valid)
          value = x->aligned[x->offset + i * x->strides[0] + j * x->strides[1] +
                             k * x->strides[2]] *
                      w->aligned[w->offset + j * w->strides[0] +
                                 k * w->strides[1]] +
                  bias->aligned[bias->offset + k * bias->strides[0]];
        out->aligned[i * out->strides[0] + j * out->strides[1] +
                     k * out->strides[2]] = value;
      }
}
