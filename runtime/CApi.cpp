//===- CApi.cpp - C API of the moe-mlir runtime ---------------------------===//
//
// A thin layer over moe::Model: it converts between C and C++ types and turns
// every failure, including a C++ exception, into MOE_ERROR and a message, so
// nothing unwinds into C callers.
//
//===----------------------------------------------------------------------===//

#include "runtime/moe_runtime.h"

#include "runtime/Model.h"

#include <cstring>
#include <exception>
#include <optional>

using namespace moe;

struct moe_model {
  explicit moe_model(Model model) : model(std::move(model)) {}

  Model model;
  // Written by calls that take a const model (the accessors), which may fail.
  mutable std::string error;
};

namespace {
// Errors of calls that have no model to hold them: loading, or a NULL model.
thread_local std::string threadError;

struct DTypePair {
  moe_dtype_t c;
  DType dtype;
};

constexpr DTypePair kDTypes[] = {
    {MOE_DTYPE_F16, DType::F16},  {MOE_DTYPE_BF16, DType::BF16},
    {MOE_DTYPE_F32, DType::F32},  {MOE_DTYPE_F64, DType::F64},
    {MOE_DTYPE_I8, DType::I8},    {MOE_DTYPE_I16, DType::I16},
    {MOE_DTYPE_I32, DType::I32},  {MOE_DTYPE_I64, DType::I64},
    {MOE_DTYPE_U8, DType::U8},    {MOE_DTYPE_U16, DType::U16},
    {MOE_DTYPE_U32, DType::U32},  {MOE_DTYPE_U64, DType::U64},
    {MOE_DTYPE_BOOL, DType::Bool}};

moe_dtype_t toC(DType dtype) {
  for (const DTypePair &pair : kDTypes)
    if (pair.dtype == dtype)
      return pair.c;
  return MOE_DTYPE_F32; // unreachable: kDTypes lists every DType
}

std::optional<DType> fromC(moe_dtype_t dtype) {
  for (const DTypePair &pair : kDTypes)
    if (pair.c == dtype)
      return pair.dtype;
  return std::nullopt;
}

moe_status_t fail(const moe_model_t *model, const std::string &message) {
  (model ? model->error : threadError) = message;
  return MOE_ERROR;
}

/// Runs `body` (returning a moe::Status) on behalf of `model`.
template <typename Body>
moe_status_t guarded(const moe_model_t *model, Body &&body) {
  if (!model)
    return fail(nullptr, "the model is NULL");
  try {
    Status status = body();
    return status.ok() ? MOE_OK : fail(model, status.message());
  } catch (const std::exception &e) {
    return fail(model, std::string("internal error: ") + e.what());
  }
}

/// A copy of the caller's tensor for the argument `name` of `role`. The
/// caller's dtype, rank and shape are checked against the argument's before
/// anything is read, so a wrong description (a rank of 2^40, f64 claimed over
/// an f32 buffer) is an error, never a read past the caller's buffers.
Expected<HostTensor> copyArgument(const Model &model, const char *name,
                                  ArgRole role, moe_dtype_t dtype, size_t rank,
                                  const int64_t *shape, const void *data) {
  Expected<size_t> index = model.argumentIndex(name, role);
  if (!index)
    return index.status();
  const ArgSpec &arg = model.signature().args[*index];
  std::string prefix =
      std::string(argRoleName(role)) + " " + quote(name) + ": ";
  std::optional<DType> elementType = fromC(dtype);
  if (!elementType)
    return Status::failure(prefix, "unknown moe_dtype_t value ",
                           static_cast<int64_t>(dtype));
  if (rank != arg.shape.size())
    return Status::failure(prefix, "expected ", arg.typeString(),
                           ", got a rank-", rank, " ", dtypeName(*elementType),
                           " tensor");
  if (rank && !shape)
    return Status::failure(prefix, "the shape is NULL for a rank-", rank,
                           " tensor");
  std::vector<int64_t> dims(shape, shape + rank);
  if (!arg.matches(*elementType, dims))
    return Status::failure(prefix, "expected ", arg.typeString(), ", got ",
                           dtypeName(*elementType), " ", shapeString(dims));
  Expected<HostTensor> tensor = HostTensor::create(arg.dtype, dims);
  if (!tensor)
    return tensor.status().withPrefix(prefix);
  if (tensor->byteSize() && !data)
    return Status::failure(prefix, "the data is NULL for a ",
                           tensor->typeString(), " tensor");
  if (tensor->byteSize())
    std::memcpy(tensor->bytes(), data, tensor->byteSize());
  if (Status s = tensor->checkBoolBytes(); !s.ok())
    return s.withPrefix(prefix);
  return tensor;
}

void setIf(const char **out, const std::string &name) {
  if (out)
    *out = name.c_str();
}

void setShape(const TensorSpec &spec, const std::vector<int64_t> &dims,
              moe_dtype_t *dtype, size_t *rank, const int64_t **shape) {
  if (dtype)
    *dtype = toC(spec.dtype);
  if (rank)
    *rank = dims.size();
  if (shape)
    *shape = dims.data();
}
} // namespace

moe_model_t *moe_model_load(const char *path) {
  if (!path) {
    threadError = "the path is NULL";
    return nullptr;
  }
  try {
    Expected<Model> model = Model::load(path);
    if (!model) {
      threadError = model.message();
      return nullptr;
    }
    return new moe_model(std::move(*model));
  } catch (const std::exception &e) {
    threadError = std::string("internal error: ") + e.what();
    return nullptr;
  }
}

void moe_model_free(moe_model_t *model) { delete model; }

const char *moe_model_last_error(const moe_model_t *model) {
  return model ? model->error.c_str() : threadError.c_str();
}

size_t moe_model_num_args(const moe_model_t *model) {
  return model ? model->model.signature().args.size() : 0;
}

moe_status_t moe_model_arg(const moe_model_t *model, size_t index,
                           const char **name, moe_arg_role_t *role,
                           moe_dtype_t *dtype, size_t *rank,
                           const int64_t **shape) {
  return guarded(model, [&] {
    const std::vector<ArgSpec> &args = model->model.signature().args;
    if (index >= args.size())
      return Status::failure("argument index ", index, " is out of range (",
                             args.size(),
                             args.size() == 1 ? " argument)" : " arguments)");
    const ArgSpec &arg = args[index];
    setIf(name, arg.name);
    if (role)
      *role = arg.role == ArgRole::Input ? MOE_ROLE_INPUT : MOE_ROLE_WEIGHT;
    setShape(arg, arg.declaredShape, dtype, rank, shape);
    return Status::success();
  });
}

moe_status_t moe_model_bind_weights_file(moe_model_t *model, const char *path) {
  return guarded(model, [&] {
    if (!path)
      return Status::failure("the path is NULL");
    return model->model.bindWeights(std::string(path));
  });
}

/// Binds a copy of the caller's tensor to the argument `name` of `role`.
static moe_status_t bindCopy(moe_model_t *model, const char *name, ArgRole role,
                             moe_dtype_t dtype, size_t rank,
                             const int64_t *shape, const void *data) {
  return guarded(model, [&] {
    if (!name)
      return Status::failure("the ", argRoleName(role), " name is NULL");
    Expected<HostTensor> tensor =
        copyArgument(model->model, name, role, dtype, rank, shape, data);
    if (!tensor)
      return tensor.status();
    return model->model.bindArgument(name, role, std::move(*tensor));
  });
}

moe_status_t moe_model_bind_input(moe_model_t *model, const char *name,
                                  moe_dtype_t dtype, size_t rank,
                                  const int64_t *shape, const void *data) {
  return bindCopy(model, name, ArgRole::Input, dtype, rank, shape, data);
}

moe_status_t moe_model_bind_weight(moe_model_t *model, const char *name,
                                   moe_dtype_t dtype, size_t rank,
                                   const int64_t *shape, const void *data) {
  return bindCopy(model, name, ArgRole::Weight, dtype, rank, shape, data);
}

moe_status_t moe_model_set_threads(moe_model_t *model, unsigned threads) {
  return guarded(model, [&] { return model->model.setThreads(threads); });
}

moe_status_t moe_model_run(moe_model_t *model) {
  return guarded(model, [&] { return model->model.run(); });
}

moe_status_t moe_model_last_device_ms(const moe_model_t *model,
                                      double *milliseconds) {
  return guarded(model, [&] {
    if (model->model.results().empty())
      return Status::failure("no device time: moe_model_run has not "
                             "succeeded");
    std::optional<double> device = model->model.lastDeviceMilliseconds();
    if (!device)
      return model->model.signature().device == DeviceKind::Cpu
                 ? Status::failure("no device time: the model runs on the CPU")
                 : Status::failure(
                       "no device time: the ",
                       deviceKindName(model->model.signature().device),
                       " device does not measure it");
    if (milliseconds)
      *milliseconds = *device;
    return Status::success();
  });
}

size_t moe_model_num_results(const moe_model_t *model) {
  return model ? model->model.signature().results.size() : 0;
}

moe_status_t moe_model_result(const moe_model_t *model, size_t index,
                              const char **name, moe_dtype_t *dtype,
                              size_t *rank, const int64_t **shape,
                              const void **data) {
  return guarded(model, [&] {
    const std::vector<TensorSpec> &specs = model->model.signature().results;
    const std::vector<HostTensor> &results = model->model.results();
    if (index >= specs.size())
      return Status::failure("result index ", index, " is out of range (",
                             specs.size(),
                             specs.size() == 1 ? " result)" : " results)");
    if (results.empty())
      return Status::failure("no results yet: moe_model_run has not "
                             "succeeded");
    setIf(name, specs[index].name);
    setShape(specs[index], results[index].shape(), dtype, rank, shape);
    if (data)
      *data = results[index].bytes();
    return Status::success();
  });
}
