//===- Signature.h - Entry point arguments and results ----------*- C++ -*-===//
//
// Every artifact describes its entry point with a JSON string (see
// docs/artifact-abi.md):
//
//   {"entry": "l1",
//    "args": [{"name": "x", "role": "input", "dtype": "f32",
//              "shape": [1, 1576, 768]}, ...],
//    "results": [{"name": "out", "dtype": "f32", "shape": [1, 1576, 768]},
//                ...],
//    "cpu": {"name": "x86-64-v3", "features": ["avx", "avx2", "fma", ...]}}
//
// parseSignature validates it completely, so the rest of the runtime can
// trust every name, dtype and shape: the JSON is strict (Json.h), every
// required field is present with the right kind, dtypes are known, shapes are
// static with non-negative dimensions whose byte size fits the host, and names
// are non-empty and unique across args and results (they are how callers bind
// tensors and name output files). Unknown keys are ignored, so the compiler can
// add fields without breaking older runtimes.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_SIGNATURE_H
#define MOE_RUNTIME_SIGNATURE_H

#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

/// The newest artifact ABI version this runtime runs.
inline constexpr int kMaxAbiVersion = 6;

/// How the caller supplies an argument: per call (an input such as the
/// activations) or once per model (a weight, bound from a .safetensors file).
enum class ArgRole { Input, Weight };

/// "input" or "weight".
std::string_view argRoleName(ArgRole role);

/// A named tensor of static type: one argument or result of an entry point.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  /// The shape; for a per-group tensor, the shape of one group.
  std::vector<int64_t> shape;
  /// ABI 5 (`per_group`): the first dimension holds the rows of every group,
  /// `shape[0]` per group, and the entry is called once per group.
  bool perGroup = false;
  /// `shape` with -1 for the first dimension of a per-group tensor: the
  /// shape as the C API reports it.
  std::vector<int64_t> declaredShape;

  /// "f32 [8, 768, 3072]", "f32 [2*G, 4, 16]" for a per-group tensor: the
  /// form used in messages.
  std::string typeString() const;
  /// Whether `tensor` has this dtype and shape; a per-group tensor's first
  /// dimension may be any positive multiple of the rows of one group.
  bool matches(const HostTensor &tensor) const;
  bool matches(DType type, const std::vector<int64_t> &dims) const;
  /// The shape of `groups` groups (the shape itself if not per group).
  std::vector<int64_t> shapeFor(int64_t groups) const;
  /// How many groups a tensor that matches() holds: 1 if not per group.
  int64_t groupsIn(const HostTensor &tensor) const;
};

struct ArgSpec : TensorSpec {
  ArgRole role = ArgRole::Input;
  /// ABI 4: the entry takes this weight packed in strips of this many
  /// columns (runtime/WeightPacking.h), which binding does; 0: as it is.
  int64_t strips = 0;
};

/// The CPU an artifact's code was generated for (the signature's optional
/// `cpu` field): LLVM's name of it and the instruction set extensions the
/// code may use, which the host must have (runtime/CpuFeatures.h).
struct CpuSpec {
  std::string name;
  std::vector<std::string> features;
};

/// Where an artifact's entry runs (the signature's `device`).
enum class DeviceKind { Cpu, Cuda, OpenCL };

/// "cpu", "cuda" or "opencl".
std::string_view deviceKindName(DeviceKind kind);

/// One argument of a kernel launch (ABI 6): a device buffer (the entry's
/// argument `index`: arguments, then results, then the workspace) or a
/// scalar of `bytes` bytes whose value is the low bytes of `bits`.
struct LaunchArg {
  bool isBuffer = true;
  size_t index = 0;
  unsigned bytes = 0;
  uint64_t bits = 0;
};

/// One kernel launch of a GPU artifact's host program (ABI 6).
struct Launch {
  std::string kernel;
  std::array<unsigned, 3> grid = {1, 1, 1};
  std::array<unsigned, 3> block = {1, 1, 1};
  std::vector<LaunchArg> args;
};

/// The calling convention of one entry point: arguments in the order the
/// entry receives them, then results in the order it writes them.
struct Signature {
  /// The name of the entry in the source program (informational).
  std::string entry;
  std::vector<ArgSpec> args;
  std::vector<TensorSpec> results;
  /// The artifact ABI's version (docs/artifact-abi.md): 1; 2 where the
  /// entry also takes a status record and can report `checks`; 3 where it
  /// also takes the executor that runs its grids of workgroups; 4 where it
  /// may also take weights packed in strips (ArgSpec::strips); 5 where
  /// inputs and results may be per group (TensorSpec::perGroup).
  int abiVersion = 1;
  /// ABI 2: the messages of the entry's run-time checks; a failed call
  /// reports checks[code - 1] with `{i}` replaced by the record's values.
  std::vector<std::string> checks;
  /// Where the entry runs: the optional `device`, "cpu" (the default),
  /// "cuda" or "opencl" (ABI 6: `launches` of kernels in the artifact's
  /// binary, on a CUDA or OpenCL device).
  DeviceKind device = DeviceKind::Cpu;
  /// ABI 6, GPU artifacts: the kernels to launch in order, and the bytes of
  /// the workspace (the buffer after the results) they use.
  std::vector<Launch> launches;
  int64_t workspaceBytes = 0;
  /// The CPU the code was built for; absent in signatures without `cpu`,
  /// whose code runs on any CPU of its architecture.
  std::optional<CpuSpec> cpu;

  /// The argument named `name`, or null.
  const ArgSpec *findArg(std::string_view name) const;
  /// The number of arguments with `role`.
  size_t count(ArgRole role) const;
  /// "'x', 'y'": the quoted names of the arguments with `role`, for messages.
  std::string argNames(ArgRole role) const;
  /// "'out', 'expert_load'": the quoted names of the results, for messages.
  std::string resultNames() const;
  /// Whether the entry is called once per group (some tensor is per group).
  bool hasGroups() const;
  /// The per-group arguments and results.
  std::vector<const TensorSpec *> perGroupTensors() const;
  /// ABI 5 (`groups_per_call`, default 1): the groups one call of the entry
  /// computes; per-group tensors are passed `groupsPerCall` groups at a time.
  int64_t groupsPerCall = 1;
};

/// Parses and validates a signature. Failures are one line starting with
/// "signature: ", e.g.
///   args[1] ('w_gate'): unknown dtype 'f33' (known: f16 bf16 f32 ...)
///   results[0] ('out'): shape must hold non-negative integers, got -1
Expected<Signature> parseSignature(std::string_view json);

} // namespace moe

#endif // MOE_RUNTIME_SIGNATURE_H
