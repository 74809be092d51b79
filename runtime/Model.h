//===- Model.h - A compiled entry point with its bound tensors --*- C++ -*-===//
//
// A Model is one compiled entry point (docs/artifact-abi.md) plus the tensors
// bound to its arguments and the buffers of its results:
//
//   Expected<Model> model = Model::load("l1.so");
//   if (!model) return model.status();
//   if (Status s = model->bindWeights("l1.safetensors"); !s.ok()) return s;
//   if (Status s = model->bindInput("x", std::move(x)); !s.ok()) return s;
//   if (Status s = model->run(); !s.ok()) return s;
//   const HostTensor *out = model->findResult("out");
//
// Binding checks names, dtypes and shapes against the signature, so run()
// only ever hands the entry buffers of exactly the types it was compiled for.
// A Model is not thread-safe; load one per thread (the shared object and any
// weight file may be shared between them).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_MODEL_H
#define MOE_RUNTIME_MODEL_H

#include "runtime/DeviceRunner.h"
#include "runtime/SafeTensors.h"
#include "runtime/Signature.h"
#include "runtime/Status.h"
#include "runtime/Tensor.h"
#include "runtime/ThreadPool.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

class Model {
public:
  /// The entry point: args[i] is the memref descriptor of the i-th argument,
  /// then of each result.
  using EntryFn = void (*)(void **args);

  /// Loads an artifact: dlopens `path` (RTLD_NOW | RTLD_LOCAL) and reads its
  /// `moe_signature_json` and `moe_entry` symbols; a GPU artifact (ABI 6)
  /// has `moe_device_binary` instead of `moe_entry`, which the first run()
  /// loads on its device (DeviceRunner), failing when none is there. A path
  /// without a '/' is taken relative to the working directory, not searched for
  /// like a system library. Failures start with "model '<path>': ". Like
  /// fromEntry, refuses code built for a CPU feature this one lacks.
  static Expected<Model> load(const std::string &path);

  /// A model whose code lives elsewhere (e.g. a JIT): `keepAlive` owns
  /// whatever keeps `entry` valid (an ExecutionEngine, say; null for code that
  /// is always loaded) and is released when the model is destroyed. Fails
  /// when the signature's `cpu` lists a feature this CPU lacks
  /// (checkHostCpu: "built for CPU 'x86-64-v4' with features avx512f,
  /// avx512bw that this CPU lacks").
  static Expected<Model> fromEntry(std::string_view signatureJson,
                                   EntryFn entry,
                                   std::shared_ptr<void> keepAlive);

  const Signature &signature() const { return sig; }

  /// Binds every weight argument to the tensor of the same name in `file`,
  /// which the model keeps alive (several models may share one file). Other
  /// tensors in the file are ignored. All or nothing: on failure (a missing
  /// tensor, a wrong dtype or shape) nothing is bound. A weight the entry
  /// takes packed (ArgSpec::strips) is bound to a packed copy, made here;
  /// when the model is given the file itself (by value or path), the file's
  /// tensor is released as soon as it is packed.
  Status bindWeights(std::shared_ptr<const SafeTensorsFile> file);
  Status bindWeights(SafeTensorsFile file);
  Status bindWeights(const std::string &path);

  /// The index in signature().args of the argument `name` of `role`; fails,
  /// listing the arguments of that role, for any other name.
  Expected<size_t> argumentIndex(const std::string &name, ArgRole role) const;

  /// Binds the argument `name` of `role` to a tensor held in memory.
  Status bindArgument(const std::string &name, ArgRole role, HostTensor tensor);

  /// Binds the weight `name` to a tensor held in memory.
  Status bindWeight(const std::string &name, HostTensor tensor);

  /// Binds the input `name`; fails for names that are not inputs.
  Status bindInput(const std::string &name, HostTensor tensor);
  /// Binds the input `name` to the array in the .npy file at `path`.
  Status bindInputNpy(const std::string &name, const std::string &path);
  /// Binds the .npy file at `path` to the model's only input.
  Status bindInputNpy(const std::string &path);

  /// The number of threads run() uses for the entry's grids of workgroups
  /// (ABI version 3); at least 1. Results do not depend on it. Until set:
  /// MOE_NUM_THREADS, else the CPUs the process may run on
  /// (defaultThreadCount); an invalid MOE_NUM_THREADS fails run().
  Status setThreads(unsigned threads);
  /// The number of threads set, or 0 while the default applies.
  unsigned threads() const { return requestedThreads; }

  /// Calls the entry with every argument. Fails, naming them, if arguments
  /// are unbound, and with the entry's message when one of its run-time
  /// checks stops it (ABI version 2: an index input out of range, a failed
  /// allocation). Result buffers are allocated by the first run and reused
  /// (overwritten) by later ones.
  Status run();

  /// The results of the last run(), in signature order, if it succeeded;
  /// empty before a run and after a failed one.
  const std::vector<HostTensor> &results() const;
  /// For a GPU artifact whose device measures it (CUDA events): the device
  /// time of the last run's kernel launches, copies excluded (summed over
  /// the calls of an entry of per-group tensors).
  std::optional<double> lastDeviceMilliseconds() const {
    return haveResults ? deviceMilliseconds : std::nullopt;
  }
  /// The result `name` of the last successful run(), or null.
  const HostTensor *findResult(std::string_view name) const;

private:
  Model(Signature signature, EntryFn entry, std::shared_ptr<void> keepAlive);
  /// Runs a GPU artifact's launches with the bound tensors, once per
  /// `groupsPerCall` of `groups` groups for an entry of per-group tensors.
  Status runOnDevice(int64_t groups);

  /// Binds argument `index` after checking `tensor`'s type; `origin` (a file)
  /// is named in the message when it is not empty.
  Status bind(size_t index, std::shared_ptr<const HostTensor> tensor,
              const std::string &origin);
  /// bindWeights from a file that is either the model's own (`owned`, whose
  /// packed tensors it releases) or shared.
  Status bindWeightFile(SafeTensorsFile *owned,
                        std::shared_ptr<const SafeTensorsFile> shared);

  // Declared first so that it is released last: it keeps `entryFn` valid.
  std::shared_ptr<void> code;
  Signature sig;
  EntryFn entryFn;
  /// One per argument; null while unbound. Shared so that weights loaded
  /// once can back several models without copies.
  std::vector<std::shared_ptr<const HostTensor>> bound;
  std::vector<HostTensor> outputs;
  /// The number of groups `outputs` are allocated for.
  int64_t outputGroups = 0;
  /// Whether `outputs` hold the results of a successful run.
  bool haveResults = false;
  /// The threads asked for (0: the default), and the pool that runs the
  /// entry's grids, made by the first run that needs it.
  unsigned requestedThreads = 0;
  std::unique_ptr<ThreadPool> pool;
  /// A GPU artifact's kernel binary (inside `code`; null for CPU
  /// artifacts) and its device program, opened by the first run.
  const void *deviceBinary = nullptr;
  size_t deviceBinaryBytes = 0;
  std::shared_ptr<DeviceRunner> device;
  /// The last runOnDevice's kernel time, where the device measures it.
  std::optional<double> deviceMilliseconds;
};

/// The message of a failed run-time check: `message` with every `{i}`
/// replaced by `values[i]` in decimal (docs/artifact-abi.md).
std::string formatCheckMessage(std::string_view message,
                               const std::vector<int64_t> &values);

} // namespace moe

#endif // MOE_RUNTIME_MODEL_H
