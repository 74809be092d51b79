/*===- CApiFromC.c - The C API used from C --------------------------------===//
 *
 * Compiled as C, so the tests also check that moe_runtime.h is a valid C
 * header and that a C program can drive a model with it.
 *
 *===----------------------------------------------------------------------===*/

#include "runtime/moe_runtime.h"

#include <string.h>

/* Runs affine.so on x = 1 with the weights in `weights`, storing out[0..24)
 * in `out`. Returns 0, or copies the error to `error` and returns 1. */
int moeTestRunAffineFromC(const char *artifact, const char *weights, float *out,
                          char *error, size_t errorSize) {
  float x[24];
  for (int i = 0; i < 24; ++i)
    x[i] = 1.0f;
  const int64_t shape[] = {2, 3, 4};
  moe_model_t *model = moe_model_load(artifact);
  if (!model) {
    strncpy(error, moe_model_last_error(NULL), errorSize - 1);
    return 1;
  }
  const void *data = NULL;
  size_t rank = 0;
  if (moe_model_bind_weights_file(model, weights) != MOE_OK ||
      moe_model_bind_input(model, "x", MOE_DTYPE_F32, 3, shape, x) != MOE_OK ||
      moe_model_run(model) != MOE_OK ||
      moe_model_result(model, 0, NULL, NULL, &rank, NULL, &data) != MOE_OK) {
    strncpy(error, moe_model_last_error(model), errorSize - 1);
    moe_model_free(model);
    return 1;
  }
  memcpy(out, data, 24 * sizeof(float));
  moe_model_free(model);
  return rank == 3 ? 0 : 1;
}
