/*===- moe_runtime.h - C API of the moe-mlir runtime --------------*- C -*-===//
 *
 * Loads a compiled MoE artifact (docs/artifact-abi.md), binds its weights and
 * inputs, runs it and reads its results, from C, C++ or Python (ctypes).
 * Link with -lmoe_runtime.
 *
 *   moe_model_t *model = moe_model_load("l1.so");
 *   if (!model) { puts(moe_model_last_error(NULL)); return 1; }
 *   int64_t shape[] = {1, 1576, 768};
 *   if (moe_model_bind_weights_file(model, "l1.safetensors") != MOE_OK ||
 *       moe_model_bind_input(model, "x", MOE_DTYPE_F32, 3, shape, x) !=
 *           MOE_OK ||
 *       moe_model_run(model) != MOE_OK)
 *     puts(moe_model_last_error(model));
 *   const void *out;
 *   moe_model_result(model, 0, NULL, NULL, NULL, NULL, &out);
 *   moe_model_free(model);
 *
 * Every function that can fail returns MOE_OK or MOE_ERROR and records a
 * one-line message for moe_model_last_error; none aborts or throws on bad
 * input. Tensors are dense, row-major, in host byte order. A model is not
 * thread-safe: use one per thread.
 *
 *===----------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_H
#define MOE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define MOE_RUNTIME_API __attribute__((visibility("default")))
#else
#define MOE_RUNTIME_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A loaded model with its bound tensors and results. */
typedef struct moe_model moe_model_t;

typedef enum moe_status { MOE_OK = 0, MOE_ERROR = 1 } moe_status_t;

/* Element types; f16 and bf16 elements are passed as their 16-bit patterns,
 * bool as one byte holding 0 or 1. */
typedef enum moe_dtype {
  MOE_DTYPE_F16 = 0,
  MOE_DTYPE_BF16 = 1,
  MOE_DTYPE_F32 = 2,
  MOE_DTYPE_F64 = 3,
  MOE_DTYPE_I8 = 4,
  MOE_DTYPE_I16 = 5,
  MOE_DTYPE_I32 = 6,
  MOE_DTYPE_I64 = 7,
  MOE_DTYPE_U8 = 8,
  MOE_DTYPE_U16 = 9,
  MOE_DTYPE_U32 = 10,
  MOE_DTYPE_U64 = 11,
  MOE_DTYPE_BOOL = 12,
  /* Not dtypes: they make every int, negative ones included, a valid
   * moe_dtype_t value, so the runtime can reject a bad one from C instead of
   * it being undefined in C++. */
  MOE_DTYPE_MIN_ENUM = -0x7FFFFFFF - 1,
  MOE_DTYPE_MAX_ENUM = 0x7FFFFFFF
} moe_dtype_t;

/* Inputs change per call; weights are bound once per model. */
typedef enum moe_arg_role {
  MOE_ROLE_INPUT = 0,
  MOE_ROLE_WEIGHT = 1
} moe_arg_role_t;

/* Loads the artifact at `path`. Returns NULL on failure; the reason is then
 * moe_model_last_error(NULL) in the same thread. */
MOE_RUNTIME_API moe_model_t *moe_model_load(const char *path);

/* Frees `model` and everything it owns (NULL is a no-op). */
MOE_RUNTIME_API void moe_model_free(moe_model_t *model);

/* The message of the latest failed call on `model` ("" if none failed), or for
 * `model` NULL the latest failed moe_model_load (or call given a NULL model)
 * in this thread. Valid until the next call involving the same model. */
MOE_RUNTIME_API const char *moe_model_last_error(const moe_model_t *model);

/* The arguments of the entry point, inputs and weights, in call order. Any
 * out-pointer may be NULL. `name` and `shape` live as long as the model. */
MOE_RUNTIME_API size_t moe_model_num_args(const moe_model_t *model);
MOE_RUNTIME_API moe_status_t moe_model_arg(const moe_model_t *model,
                                           size_t index, const char **name,
                                           moe_arg_role_t *role,
                                           moe_dtype_t *dtype, size_t *rank,
                                           const int64_t **shape);

/* Binds every weight to the tensor of the same name in the .safetensors file
 * at `path` (other tensors are ignored); all or nothing. */
MOE_RUNTIME_API moe_status_t moe_model_bind_weights_file(moe_model_t *model,
                                                         const char *path);

/* Binds the input (respectively weight) `name` to a copy of the
 * `rank`-dimensional tensor at `data`; `dtype` and `shape` must be the
 * argument's. `data` may be NULL only when the tensor has no elements. */
MOE_RUNTIME_API moe_status_t
moe_model_bind_input(moe_model_t *model, const char *name, moe_dtype_t dtype,
                     size_t rank, const int64_t *shape, const void *data);
MOE_RUNTIME_API moe_status_t
moe_model_bind_weight(moe_model_t *model, const char *name, moe_dtype_t dtype,
                      size_t rank, const int64_t *shape, const void *data);

/* The number of threads moe_model_run uses (>= 1; results are identical
 * for every count). Until set: the environment variable MOE_NUM_THREADS,
 * else the CPUs the process may run on. Fails for 0 or a count above 1024. */
MOE_RUNTIME_API moe_status_t moe_model_set_threads(moe_model_t *model,
                                                   unsigned threads);

/* Runs the entry point; fails, naming them, if arguments are unbound. */
MOE_RUNTIME_API moe_status_t moe_model_run(moe_model_t *model);

/* For a GPU artifact on a device that measures it (CUDA events): the device
 * time in milliseconds of the last successful moe_model_run's kernel
 * launches (all its calls of the entry), copies excluded. Fails (setting
 * nothing) for a CPU artifact, a device without the measurement, or before a
 * successful run. */
MOE_RUNTIME_API moe_status_t moe_model_last_device_ms(const moe_model_t *model,
                                                      double *milliseconds);

/* The results of the last successful moe_model_run, in signature order. Any
 * out-pointer may be NULL. Fails before a successful run. `data` is
 * overwritten by the next run and freed by moe_model_free. */
MOE_RUNTIME_API size_t moe_model_num_results(const moe_model_t *model);
MOE_RUNTIME_API moe_status_t moe_model_result(const moe_model_t *model,
                                              size_t index, const char **name,
                                              moe_dtype_t *dtype, size_t *rank,
                                              const int64_t **shape,
                                              const void **data);

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_H */
