/*===- FakeCudaDriver.c - A CUDA driver that records its calls -----------===*
 *
 * Stands in for libcuda.so.1 in the runtime's tests (MOE_CUDA_DRIVER points
 * at it): it exports the driver API entry points runtime/cuda/CudaDriver.h
 * resolves, with the driver's symbol names (`_v2` where cuda.h maps to them),
 * and
 *   - keeps "device memory" in host memory, so copies round-trip;
 *   - loads only images that start with "FAKECUBIN", which define one
 *     kernel, `fake_scale(float *data, int n, float factor)`, run on the
 *     host when launched;
 *   - checks the call order a real driver needs (cuInit first, a current
 *     context for memory, modules and launches);
 *   - records every call in a log and counts the objects alive;
 *   - fails the call named by fake_cuda_configure with the error given.
 * The test controls and reads it through the fake_cuda_* functions.
 *
 *===----------------------------------------------------------------------===*/

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
  SUCCESS = 0,
  INVALID_VALUE = 1,
  NOT_INITIALIZED = 3,
  INVALID_DEVICE = 101,
  INVALID_IMAGE = 200,
  INVALID_CONTEXT = 201,
  INVALID_HANDLE = 400,
  NOT_FOUND = 500,
};

#define EXPORT __attribute__((visibility("default")))

static int initialized, devices = 1, contexts, current, modules, streams,
                        events, allocations;
static char log_text[1 << 16];
static size_t log_length;
static char failing_call[64];
static CUresult failing_error;
/* The context handed out: any distinct non-null address. */
static int the_context, the_module, the_stream, the_event;
static const char kernel_name[] = "fake_scale";

static void record(const char *format, ...) {
  va_list args;
  va_start(args, format);
  if (log_length < sizeof(log_text))
    log_length += (size_t)vsnprintf(
        log_text + log_length, sizeof(log_text) - log_length, format, args);
  va_end(args);
  if (log_length < sizeof(log_text) - 1) {
    log_text[log_length++] = '\n';
    log_text[log_length] = 0;
  }
}

/* The configured failure of `call`, else SUCCESS. */
static CUresult injected(const char *call) {
  return strcmp(call, failing_call) == 0 ? failing_error : SUCCESS;
}

#define ENTER(call, ...)                                                       \
  do {                                                                         \
    record(call __VA_ARGS__);                                                  \
    CUresult failure = injected(call);                                         \
    if (failure != SUCCESS)                                                    \
      return failure;                                                          \
  } while (0)

/*--- The test's controls -------------------------------------------------*/

/* Resets the fake: `count` devices, no objects, an empty log, and `call`
 * (NULL: none) failing with `error`. */
EXPORT void fake_cuda_configure(int count, const char *call, int error) {
  initialized = contexts = current = modules = streams = events = 0;
  allocations = 0;
  devices = count;
  log_length = 0;
  log_text[0] = 0;
  snprintf(failing_call, sizeof(failing_call), "%s", call ? call : "");
  failing_error = error;
}

/* From now on `call` (NULL: none) fails with `error`; everything else stays. */
EXPORT void fake_cuda_fail(const char *call, int error) {
  snprintf(failing_call, sizeof(failing_call), "%s", call ? call : "");
  failing_error = error;
}

EXPORT const char *fake_cuda_log(void) { return log_text; }

/* The objects alive of `kind`: contexts, modules, streams, events,
 * allocations. */
EXPORT int fake_cuda_alive(const char *kind) {
  if (!strcmp(kind, "contexts"))
    return contexts;
  if (!strcmp(kind, "modules"))
    return modules;
  if (!strcmp(kind, "streams"))
    return streams;
  if (!strcmp(kind, "events"))
    return events;
  if (!strcmp(kind, "allocations"))
    return allocations;
  return -1;
}

/*--- The driver API ------------------------------------------------------*/

EXPORT CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case SUCCESS:
    *name = "CUDA_SUCCESS";
    return SUCCESS;
  case INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return SUCCESS;
  case 2:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    return SUCCESS;
  case NOT_INITIALIZED:
    *name = "CUDA_ERROR_NOT_INITIALIZED";
    return SUCCESS;
  case 100:
    *name = "CUDA_ERROR_NO_DEVICE";
    return SUCCESS;
  case INVALID_DEVICE:
    *name = "CUDA_ERROR_INVALID_DEVICE";
    return SUCCESS;
  case INVALID_IMAGE:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    return SUCCESS;
  case INVALID_CONTEXT:
    *name = "CUDA_ERROR_INVALID_CONTEXT";
    return SUCCESS;
  case INVALID_HANDLE:
    *name = "CUDA_ERROR_INVALID_HANDLE";
    return SUCCESS;
  case NOT_FOUND:
    *name = "CUDA_ERROR_NOT_FOUND";
    return SUCCESS;
  case 719:
    *name = "CUDA_ERROR_LAUNCH_FAILED";
    return SUCCESS;
  default:
    *name = NULL;
    return INVALID_VALUE;
  }
}

EXPORT CUresult cuGetErrorString(CUresult error, const char **text) {
  switch (error) {
  case 2:
    *text = "out of memory";
    return SUCCESS;
  case INVALID_IMAGE:
    *text = "device kernel image is invalid";
    return SUCCESS;
  case NOT_FOUND:
    *text = "named symbol not found";
    return SUCCESS;
  case 719:
    *text = "unspecified launch failure";
    return SUCCESS;
  default:
    *text = NULL;
    return INVALID_VALUE;
  }
}

EXPORT CUresult cuInit(unsigned flags) {
  ENTER("cuInit", "(%u)", flags);
  initialized = 1;
  return SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *version) {
  ENTER("cuDriverGetVersion", "");
  *version = 13000;
  return SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *count) {
  ENTER("cuDeviceGetCount", "");
  if (!initialized)
    return NOT_INITIALIZED;
  *count = devices;
  return SUCCESS;
}

EXPORT CUresult cuDeviceGet(int *device, int ordinal) {
  ENTER("cuDeviceGet", "(%d)", ordinal);
  if (!initialized)
    return NOT_INITIALIZED;
  if (ordinal < 0 || ordinal >= devices)
    return INVALID_DEVICE;
  *device = ordinal;
  return SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int length, int device) {
  ENTER("cuDeviceGetName", "(%d)", device);
  snprintf(name, (size_t)length, "Fake GPU %d", device);
  return SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
  ENTER("cuDeviceGetAttribute", "(%d, %d)", attribute, device);
  if (attribute == 75) /* compute capability, major */
    *value = 9;
  else if (attribute == 76) /* minor */
    *value = 0;
  else
    return INVALID_VALUE;
  return SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
  ENTER("cuDevicePrimaryCtxRetain", "(%d)", device);
  if (!initialized)
    return NOT_INITIALIZED;
  ++contexts;
  *context = &the_context;
  return SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int device) {
  ENTER("cuDevicePrimaryCtxRelease_v2", "(%d)", device);
  if (contexts == 0)
    return INVALID_CONTEXT;
  if (--contexts == 0)
    current = 0;
  return SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(void *context) {
  ENTER("cuCtxSetCurrent", "");
  current = context == &the_context && contexts > 0;
  return SUCCESS;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  ENTER("cuMemAlloc_v2", "(%zu)", bytes);
  if (!current)
    return INVALID_CONTEXT;
  if (bytes == 0)
    return INVALID_VALUE;
  void *memory = calloc(1, bytes);
  if (!memory)
    return 2;
  ++allocations;
  *pointer = (CUdeviceptr)memory;
  return SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr pointer) {
  ENTER("cuMemFree_v2", "");
  if (!current)
    return INVALID_CONTEXT;
  free((void *)pointer);
  --allocations;
  return SUCCESS;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr target, const void *source,
                                size_t bytes) {
  ENTER("cuMemcpyHtoD_v2", "(%zu)", bytes);
  if (!current)
    return INVALID_CONTEXT;
  memcpy((void *)target, source, bytes);
  return SUCCESS;
}

EXPORT CUresult cuMemcpyDtoH_v2(void *target, CUdeviceptr source,
                                size_t bytes) {
  ENTER("cuMemcpyDtoH_v2", "(%zu)", bytes);
  if (!current)
    return INVALID_CONTEXT;
  memcpy(target, (const void *)source, bytes);
  return SUCCESS;
}

EXPORT CUresult cuModuleLoadData(void **module, const void *image) {
  ENTER("cuModuleLoadData", "");
  if (!current)
    return INVALID_CONTEXT;
  if (!image || strncmp((const char *)image, "FAKECUBIN", 9) != 0)
    return INVALID_IMAGE;
  ++modules;
  *module = &the_module;
  return SUCCESS;
}

EXPORT CUresult cuModuleUnload(void *module) {
  ENTER("cuModuleUnload", "");
  if (module != &the_module || modules == 0)
    return INVALID_HANDLE;
  --modules;
  return SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(const void **function, void *module,
                                    const char *name) {
  ENTER("cuModuleGetFunction", "(%s)", name);
  if (module != &the_module || modules == 0)
    return INVALID_HANDLE;
  if (strcmp(name, kernel_name) != 0)
    return NOT_FOUND;
  *function = kernel_name;
  return SUCCESS;
}

/* Runs fake_scale(float *data, int n, float factor) over the grid: thread
 * i of the launch scales element i when i < n. */
EXPORT CUresult cuLaunchKernel(const void *function, unsigned gx, unsigned gy,
                               unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared, void *stream,
                               void **parameters, void **extra) {
  ENTER("cuLaunchKernel", "(%s, grid %ux%ux%u, block %ux%ux%u, shared %u)",
        function == kernel_name ? kernel_name : "?", gx, gy, gz, bx, by, bz,
        shared);
  (void)stream;
  if (!current)
    return INVALID_CONTEXT;
  if (function != kernel_name || !parameters || extra)
    return INVALID_VALUE;
  float *data = (float *)*(CUdeviceptr *)parameters[0];
  int n = *(int *)parameters[1];
  float factor = *(float *)parameters[2];
  unsigned long long threads = (unsigned long long)gx * gy * gz * bx * by * bz;
  for (unsigned long long i = 0; i < threads && i < (unsigned long long)n; ++i)
    data[i] *= factor;
  return SUCCESS;
}

EXPORT CUresult cuStreamCreate(void **stream, unsigned flags) {
  ENTER("cuStreamCreate", "(%u)", flags);
  if (!current)
    return INVALID_CONTEXT;
  ++streams;
  *stream = &the_stream;
  return SUCCESS;
}

EXPORT CUresult cuStreamDestroy_v2(void *stream) {
  ENTER("cuStreamDestroy_v2", "");
  if (stream != &the_stream || streams == 0)
    return INVALID_HANDLE;
  --streams;
  return SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(void *stream) {
  ENTER("cuStreamSynchronize", "");
  (void)stream;
  return SUCCESS;
}

EXPORT CUresult cuEventCreate(void **event, unsigned flags) {
  ENTER("cuEventCreate", "(%u)", flags);
  if (!current)
    return INVALID_CONTEXT;
  ++events;
  *event = &the_event;
  return SUCCESS;
}

EXPORT CUresult cuEventDestroy_v2(void *event) {
  ENTER("cuEventDestroy_v2", "");
  if (event != &the_event || events == 0)
    return INVALID_HANDLE;
  --events;
  return SUCCESS;
}

EXPORT CUresult cuEventRecord(void *event, void *stream) {
  ENTER("cuEventRecord", "");
  (void)event;
  (void)stream;
  return SUCCESS;
}

EXPORT CUresult cuEventSynchronize(void *event) {
  ENTER("cuEventSynchronize", "");
  (void)event;
  return SUCCESS;
}

EXPORT CUresult cuEventElapsedTime(float *milliseconds, void *start,
                                   void *end) {
  ENTER("cuEventElapsedTime", "");
  (void)start;
  (void)end;
  *milliseconds = 1.5f;
  return SUCCESS;
}
