//===- Model.cpp - A compiled entry point with its bound tensors ----------===//

#include "runtime/Model.h"
#include "runtime/WeightPacking.h"

#include "runtime/CpuFeatures.h"
#include "runtime/MemRefDescriptor.h"
#include "runtime/Npy.h"
#include "runtime/SharedObject.h"

#include <algorithm>
#include <cstring>

using namespace moe;

namespace {
// The symbols every CPU artifact exports (docs/artifact-abi.md).
constexpr const char *kSignatureSymbol = "moe_signature_json";
constexpr const char *kEntrySymbol = "moe_entry";

// Messages listing unbound arguments name at most this many.
constexpr size_t kMaxListedArgs = 10;

// The status record of ABI version 2: a code and 7 values.
constexpr int64_t kStatusWords = 8;

std::string argLabel(const ArgSpec &arg) {
  return std::string(argRoleName(arg.role)) + " " + quote(arg.name);
}
} // namespace

Model::Model(Signature signature, EntryFn entry,
             std::shared_ptr<void> keepAlive)
    : code(std::move(keepAlive)), sig(std::move(signature)), entryFn(entry),
      bound(sig.args.size()) {}

Expected<Model> Model::load(const std::string &path) {
  auto loadImpl = [&]() -> Expected<Model> {
    Expected<std::shared_ptr<SharedObject>> object = SharedObject::open(path);
    if (!object)
      return object.status();
    Expected<std::string_view> json = (*object)->cString(kSignatureSymbol);
    if (!json)
      return json.status().withPrefix("not a moe artifact: ");
    // A GPU artifact: its kernels' binary, loaded on its device.
    if (Expected<void *> binary = (*object)->symbol("moe_device_binary")) {
      Expected<void *> size = (*object)->symbol("moe_device_binary_size");
      if (!size)
        return size.status().withPrefix("not a moe artifact: ");
      Expected<Signature> signature = parseSignature(*json);
      if (!signature)
        return signature.status();
      if (signature->device == DeviceKind::Cpu)
        return Status::failure("a kernel binary in an artifact of device "
                               "'cpu'");
      // The device is opened by the first run (the signature can be read
      // where there is none).
      Model model(std::move(*signature), nullptr, std::move(*object));
      model.deviceBinary = *binary;
      model.deviceBinaryBytes =
          static_cast<size_t>(*static_cast<const int64_t *>(*size));
      return model;
    }
    Expected<void *> entry = (*object)->symbol(kEntrySymbol);
    if (!entry)
      return entry.status().withPrefix("not a moe artifact: ");
    return fromEntry(*json, reinterpret_cast<EntryFn>(*entry),
                     std::move(*object));
  };
  Expected<Model> model = loadImpl();
  if (!model)
    return model.status().withPrefix("model " + quote(path) + ": ");
  return model;
}

Expected<Model> Model::fromEntry(std::string_view signatureJson, EntryFn entry,
                                 std::shared_ptr<void> keepAlive) {
  if (!entry)
    return Status::failure("the entry function is null");
  Expected<Signature> signature = parseSignature(signatureJson);
  if (!signature)
    return signature.status();
  if (signature->device != DeviceKind::Cpu)
    return Status::failure("its code runs on a ",
                           deviceKindName(signature->device),
                           " device (signature 'device'): it is a kernel "
                           "binary with launches, not an entry function");
  // Before the code can run: an extension this CPU lacks would stop the
  // process with SIGILL mid-run.
  if (const std::optional<CpuSpec> &cpu = signature->cpu)
    if (Status s = checkHostCpu(cpu->name, cpu->features); !s.ok())
      return s;
  return Model(std::move(*signature), entry, std::move(keepAlive));
}

/// `tensor` (of `arg`'s type) packed as the entry takes it: copied from a
/// const tensor, consumed from one given by rvalue (packStrips).
template <typename T>
static Expected<std::shared_ptr<const HostTensor>>
packWeight(const ArgSpec &arg, T &&tensor) {
  Expected<HostTensor> packed = packStrips(std::forward<T>(tensor), arg.strips);
  if (!packed)
    return packed.status().withPrefix(argLabel(arg) + ": ");
  return std::make_shared<const HostTensor>(std::move(*packed));
}

Status Model::bind(size_t index, std::shared_ptr<const HostTensor> tensor,
                   const std::string &origin) {
  const ArgSpec &arg = sig.args[index];
  if (!arg.matches(*tensor))
    return Status::failure(
        argLabel(arg), origin.empty() ? "" : " from " + quote(origin),
        ": expected ", arg.typeString(), ", got ", tensor->typeString());
  if (arg.strips != 0) {
    Expected<std::shared_ptr<const HostTensor>> packed =
        packWeight(arg, *tensor);
    if (!packed)
      return packed.status();
    tensor = std::move(*packed);
  }
  bound[index] = std::move(tensor);
  return Status::success();
}

Status Model::bindWeights(std::shared_ptr<const SafeTensorsFile> file) {
  if (!file)
    return Status::failure("the weight file is null");
  return bindWeightFile(nullptr, std::move(file));
}

Status Model::bindWeights(SafeTensorsFile file) {
  return bindWeightFile(&file, nullptr);
}

Status Model::bindWeightFile(SafeTensorsFile *owned,
                             std::shared_ptr<const SafeTensorsFile> shared) {
  const SafeTensorsFile &file = owned ? *owned : *shared;
  // Check (and pack) every weight before binding any, so a failure leaves
  // the model as it was.
  std::vector<size_t> aliased;
  std::vector<std::pair<size_t, std::shared_ptr<const HostTensor>>> packed;
  for (size_t i = 0; i < sig.args.size(); ++i) {
    const ArgSpec &arg = sig.args[i];
    if (arg.role != ArgRole::Weight)
      continue;
    Expected<const HostTensor *> tensor =
        getTensor(file, arg.name, arg.dtype, arg.shape);
    if (!tensor)
      return tensor.status();
    if (arg.strips == 0) {
      aliased.push_back(i);
      continue;
    }
    // A file of our own gives up each weight as it is packed, so that
    // binding holds two copies of one expert's matrix at a time, never of
    // every weight.
    Expected<std::shared_ptr<const HostTensor>> copy =
        owned ? packWeight(arg,
                           std::move(owned->tensors.extract(arg.name).mapped()))
              : packWeight(arg, **tensor);
    if (!copy)
      return copy.status();
    packed.emplace_back(i, std::move(*copy));
  }
  if (owned)
    shared = std::make_shared<const SafeTensorsFile>(std::move(*owned));
  // Each binding of a tensor of the file shares ownership of the whole file
  // (the aliasing constructor), so the file lives as long as any of its
  // tensors is bound.
  for (size_t index : aliased)
    bound[index] = std::shared_ptr<const HostTensor>(
        shared, &shared->tensors.at(sig.args[index].name));
  for (auto &[index, tensor] : packed)
    bound[index] = std::move(tensor);
  return Status::success();
}

Status Model::bindWeights(const std::string &path) {
  Expected<SafeTensorsFile> file = readSafeTensors(path);
  if (!file)
    return file.status();
  return bindWeights(std::move(*file));
}

Expected<size_t> Model::argumentIndex(const std::string &name,
                                      ArgRole role) const {
  const ArgSpec *arg = sig.findArg(name);
  if (arg && arg->role == role)
    return static_cast<size_t>(arg - sig.args.data());
  auto withArticle = [](ArgRole r) {
    return r == ArgRole::Input ? "an input" : "a weight";
  };
  std::string roleName(argRoleName(role)), others = sig.argNames(role);
  std::string problem = arg ? quote(name) + " is " + withArticle(arg->role) +
                                  ", not " + withArticle(role)
                            : "no " + roleName + " named " + quote(name);
  return Status::failure(problem, " (", roleName,
                         "s: ", others.empty() ? "none" : others, ")");
}

Status Model::bindArgument(const std::string &name, ArgRole role,
                           HostTensor tensor) {
  Expected<size_t> index = argumentIndex(name, role);
  if (!index)
    return index.status();
  return bind(*index, std::make_shared<const HostTensor>(std::move(tensor)),
              "");
}

Status Model::bindWeight(const std::string &name, HostTensor tensor) {
  return bindArgument(name, ArgRole::Weight, std::move(tensor));
}

Status Model::bindInput(const std::string &name, HostTensor tensor) {
  return bindArgument(name, ArgRole::Input, std::move(tensor));
}

Status Model::bindInputNpy(const std::string &name, const std::string &path) {
  Expected<size_t> index = argumentIndex(name, ArgRole::Input);
  if (!index)
    return index.status();
  Expected<HostTensor> tensor = readNpy(path);
  if (!tensor)
    return tensor.status();
  return bind(*index, std::make_shared<const HostTensor>(std::move(*tensor)),
              path);
}

Status Model::bindInputNpy(const std::string &path) {
  size_t inputs = sig.count(ArgRole::Input);
  if (inputs != 1)
    return Status::failure(
        quote(path), " does not name the input it binds, but the model has ",
        inputs == 0 ? "no inputs"
                    : std::to_string(inputs) + " inputs (" +
                          sig.argNames(ArgRole::Input) + ")");
  for (const ArgSpec &arg : sig.args)
    if (arg.role == ArgRole::Input)
      return bindInputNpy(arg.name, path);
  return Status::success();
}

Status Model::runOnDevice(int64_t groups) {
  if (!device) {
    Expected<std::unique_ptr<DeviceRunner>> runner =
        openDeviceRunner(sig.device, deviceBinary, deviceBinaryBytes);
    if (!runner)
      return runner.status();
    device = std::move(*runner);
  }
  std::vector<const HostTensor *> args;
  for (const std::shared_ptr<const HostTensor> &tensor : bound)
    args.push_back(tensor.get());
  // The kernels' time of the run: the sum of every call's, none once a call
  // is not measured.
  deviceMilliseconds = 0.0;
  auto addDeviceTime = [&] {
    std::optional<double> call = device->lastLaunchMilliseconds();
    deviceMilliseconds =
        deviceMilliseconds && call
            ? std::optional<double>(*deviceMilliseconds + *call)
            : std::nullopt;
  };
  if (!sig.hasGroups()) {
    if (Status s = device->run(sig, args, outputs); !s.ok())
      return s;
    addDeviceTime();
    haveResults = true;
    return Status::success();
  }
  // ABI 5 on a device: one run per `groupsPerCall` groups, each given copies
  // of those groups' rows (a last, partial call padded with copies of its
  // last group), its results' rows copied back.
  const int64_t perCall = sig.groupsPerCall;
  auto groupBytes = [&](const HostTensor &tensor) {
    return tensor.byteSize() / static_cast<size_t>(groups);
  };
  for (int64_t first = 0; first < groups; first += perCall) {
    const int64_t held = std::min(perCall, groups - first);
    std::vector<HostTensor> callArgs(args.size());
    std::vector<const HostTensor *> callArgPointers = args;
    for (size_t i = 0; i < args.size(); ++i) {
      if (!sig.args[i].perGroup)
        continue;
      Expected<HostTensor> copy =
          HostTensor::create(sig.args[i].dtype, sig.args[i].shapeFor(perCall));
      if (!copy)
        return copy.status().withPrefix(quote(sig.args[i].name) + ": ");
      size_t rowBytes = groupBytes(*args[i]);
      for (int64_t g = 0; g < perCall; ++g)
        std::memcpy(copy->bytes() + g * rowBytes,
                    args[i]->bytes() +
                        (first + std::min(g, held - 1)) * rowBytes,
                    rowBytes);
      callArgs[i] = std::move(*copy);
      callArgPointers[i] = &callArgs[i];
    }
    std::vector<HostTensor> callResults;
    for (const TensorSpec &result : sig.results) {
      Expected<HostTensor> tensor = HostTensor::create(
          result.dtype,
          result.perGroup ? result.shapeFor(perCall) : result.shape);
      if (!tensor)
        return tensor.status().withPrefix("result " + quote(result.name) +
                                          ": ");
      callResults.push_back(std::move(*tensor));
    }
    if (Status s = device->run(sig, callArgPointers, callResults); !s.ok())
      return s.withPrefix(groups > 1
                              ? "groups " + std::to_string(first) + " to " +
                                    std::to_string(first + held - 1) + " of " +
                                    std::to_string(groups) + ": "
                              : std::string());
    for (size_t r = 0; r < outputs.size(); ++r) {
      if (!sig.results[r].perGroup) {
        std::memcpy(outputs[r].bytes(), callResults[r].bytes(),
                    outputs[r].byteSize());
        continue;
      }
      size_t rowBytes = groupBytes(outputs[r]);
      std::memcpy(outputs[r].bytes() + first * rowBytes, callResults[r].bytes(),
                  held * rowBytes);
    }
    addDeviceTime();
  }
  haveResults = true;
  return Status::success();
}

Status Model::run() {
  std::vector<const ArgSpec *> unbound;
  for (size_t i = 0; i < sig.args.size(); ++i)
    if (!bound[i])
      unbound.push_back(&sig.args[i]);
  if (unbound.size() == 1)
    return Status::failure(argLabel(*unbound.front()), " is not bound");
  if (!unbound.empty()) {
    std::string list;
    for (size_t i = 0; i < unbound.size() && i < kMaxListedArgs; ++i)
      list += (i ? ", " : "") + argLabel(*unbound[i]);
    if (unbound.size() > kMaxListedArgs)
      list +=
          ", and " + std::to_string(unbound.size() - kMaxListedArgs) + " more";
    return Status::failure(unbound.size(), " arguments are not bound: ", list);
  }

  // ABI 5: the per-group inputs tell the number of groups; they must agree.
  int64_t groups = 1;
  const ArgSpec *grouped = nullptr;
  for (size_t i = 0; i < sig.args.size(); ++i) {
    const ArgSpec &arg = sig.args[i];
    if (!arg.perGroup)
      continue;
    int64_t held = arg.groupsIn(*bound[i]);
    if (grouped && held != groups)
      return Status::failure(argLabel(arg), " holds ", held, " groups (",
                             bound[i]->shape()[0], " rows of ", arg.shape[0],
                             "), but ", argLabel(*grouped), " holds ", groups);
    groups = held;
    grouped = &arg;
  }

  if (outputs.empty() || outputGroups != groups) {
    std::vector<HostTensor> allocated;
    for (const TensorSpec &result : sig.results) {
      Expected<HostTensor> tensor =
          HostTensor::create(result.dtype, result.shapeFor(groups));
      if (!tensor)
        return tensor.status().withPrefix("result " + quote(result.name) +
                                          ": ");
      allocated.push_back(std::move(*tensor));
    }
    outputs = std::move(allocated);
    outputGroups = groups;
  }

  haveResults = false;
  if (deviceBinary)
    return runOnDevice(groups);
  // ABI 3: the executor of the entry's grids after the status record.
  if (sig.abiVersion >= 3) {
    unsigned threads = requestedThreads;
    if (threads == 0) {
      Expected<unsigned> fallback = defaultThreadCount();
      if (!fallback)
        return fallback.status();
      threads = *fallback;
    }
    if (!pool || pool->threads() != threads)
      pool = std::make_unique<ThreadPool>(threads);
  }
  // ABI 2: the status record after the results: [code, values...].
  std::vector<int64_t> status(sig.abiVersion >= 2 ? kStatusWords : 0, 0);
  // ABI 5: one call per `groupsPerCall` groups, each given those groups'
  // rows of the per-group tensors. A last call of fewer groups gets copies
  // of them, padded with copies of its last group, and gives back the rows
  // of its own groups.
  const int64_t perCall = sig.groupsPerCall;
  for (int64_t first = 0; first < groups; first += perCall) {
    const int64_t held = std::min(perCall, groups - first);
    std::vector<HostTensor> padded(sig.args.size() + sig.results.size());
    std::vector<MemRefDescriptor> descriptors;
    descriptors.reserve(bound.size() + outputs.size() + 1);
    // `tensor` as the call takes it: whole, this call's groups' rows, or
    // (a padded call) a copy in padded[slot].
    auto describe = [&](const TensorSpec &spec, HostTensor &tensor, size_t slot,
                        bool input) -> Status {
      if (!spec.perGroup) {
        descriptors.emplace_back(tensor.bytes(), tensor.shape());
        return Status::success();
      }
      size_t groupBytes = tensor.byteSize() / static_cast<size_t>(groups);
      std::byte *rows = tensor.bytes() + first * groupBytes;
      if (held < perCall) {
        Expected<HostTensor> copy =
            HostTensor::create(spec.dtype, spec.shapeFor(perCall));
        if (!copy)
          return copy.status().withPrefix(quote(spec.name) + ": ");
        if (input)
          for (int64_t g = 0; g < perCall; ++g)
            std::memcpy(copy->bytes() + g * groupBytes,
                        rows + std::min(g, held - 1) * groupBytes, groupBytes);
        padded[slot] = std::move(*copy);
        rows = padded[slot].bytes();
      }
      descriptors.emplace_back(rows, spec.shapeFor(perCall));
      return Status::success();
    };
    // The ABI passes non-const pointers, but entries only read their
    // arguments (docs/artifact-abi.md), which is what lets models share
    // weights.
    for (size_t i = 0; i < bound.size(); ++i)
      if (Status s = describe(sig.args[i], const_cast<HostTensor &>(*bound[i]),
                              i, /*input=*/true);
          !s.ok())
        return s;
    for (size_t i = 0; i < outputs.size(); ++i)
      if (Status s = describe(sig.results[i], outputs[i], bound.size() + i,
                              /*input=*/false);
          !s.ok())
        return s;
    std::fill(status.begin(), status.end(), 0);
    if (!status.empty())
      descriptors.emplace_back(status.data(),
                               std::vector<int64_t>{kStatusWords});
    std::vector<void *> args;
    args.reserve(descriptors.size() + 1);
    for (MemRefDescriptor &descriptor : descriptors)
      args.push_back(descriptor.get());
    if (sig.abiVersion >= 3)
      args.push_back(const_cast<moe_executor *>(pool->executor()));
    entryFn(args.data());
    if (!status.empty() && status[0] != 0) {
      std::string where =
          groups > 1
              ? (perCall == 1 ? "group " + std::to_string(first)
                              : "groups " + std::to_string(first) + " to " +
                                    std::to_string(first + held - 1)) +
                    " of " + std::to_string(groups) + ": "
              : std::string();
      int64_t code = status[0];
      if (code < 1 || static_cast<uint64_t>(code) > sig.checks.size())
        return Status::failure(where, "the entry failed with status ", code,
                               ", which its signature does not describe");
      return Status::failure(
          where, formatCheckMessage(
                     sig.checks[code - 1],
                     std::vector<int64_t>(status.begin() + 1, status.end())));
    }
    // The rows of this call's own groups of a padded call's results.
    for (size_t i = 0; i < outputs.size(); ++i) {
      HostTensor &copy = padded[bound.size() + i];
      if (copy.byteSize() == 0 || !sig.results[i].perGroup)
        continue;
      size_t groupBytes = outputs[i].byteSize() / static_cast<size_t>(groups);
      std::memcpy(outputs[i].bytes() + first * groupBytes, copy.bytes(),
                  held * groupBytes);
    }
  }
  haveResults = true;
  return Status::success();
}

Status Model::setThreads(unsigned threads) {
  if (threads < 1 || threads > kMaxThreads)
    return Status::failure("the number of threads must be in [1, ", kMaxThreads,
                           "], got ", threads);
  requestedThreads = threads;
  return Status::success();
}

const std::vector<HostTensor> &Model::results() const {
  static const std::vector<HostTensor> none;
  return haveResults ? outputs : none;
}

const HostTensor *Model::findResult(std::string_view name) const {
  const std::vector<HostTensor> &tensors = results();
  for (size_t i = 0; i < tensors.size(); ++i)
    if (sig.results[i].name == name)
      return &tensors[i];
  return nullptr;
}

std::string moe::formatCheckMessage(std::string_view message,
                                    const std::vector<int64_t> &values) {
  std::string text;
  for (size_t i = 0; i < message.size(); ++i) {
    size_t close = message.find('}', i);
    if (message[i] == '{' && close != std::string_view::npos && close > i + 1) {
      std::string_view digits = message.substr(i + 1, close - i - 1);
      bool numeric =
          digits.size() < 3 &&
          digits.find_first_not_of("0123456789") == std::string_view::npos;
      size_t index = numeric ? std::stoul(std::string(digits)) : values.size();
      if (index < values.size()) {
        text += std::to_string(values[index]);
        i = close;
        continue;
      }
    }
    text += message[i];
  }
  return text;
}
