//===- Signature.cpp - What a compiled entry point takes and returns ------===//

#include "runtime/Signature.h"

#include "runtime/Json.h"

#include <cstdlib>
#include <cstring>
#include <set>

using namespace moe;

namespace {

std::string knownDTypes() {
  std::string names;
  for (DType dtype : kAllDTypes)
    names +=
        std::string(names.empty() ? "" : " ") + std::string(dtypeName(dtype));
  return names;
}

/// The member `key` of `object` as a value of `kind`, or a failure naming it.
Expected<const JsonValue *>
getField(const JsonValue &object, std::string_view key, JsonValue::Kind kind) {
  const JsonValue *value = object.find(key);
  if (!value)
    return Status::failure("missing field ", quote(key));
  if (value->kind != kind)
    return Status::failure("field ", quote(key), " must be ",
                           JsonValue::kindName(kind), ", got ",
                           JsonValue::kindName(value->kind));
  return value;
}

/// The count field `name` (`value`): an integer from 1 to 2^20.
Expected<int64_t> parseCount(const JsonValue &value, std::string_view name) {
  std::optional<uint64_t> count = value.asUint64();
  if (!count || *count < 1 || *count > (1u << 20))
    return Status::failure("field ", quote(name),
                           " must be an integer from 1 to 1048576, got ",
                           value.kind == JsonValue::Kind::Number
                               ? value.text
                               : std::string(JsonValue::kindName(value.kind)));
  return static_cast<int64_t>(*count);
}

Status parseShape(const JsonValue &value, std::vector<int64_t> &shape) {
  for (const JsonValue &dim : value.elements) {
    std::optional<uint64_t> d = dim.asUint64();
    if (!d || *d > static_cast<uint64_t>(INT64_MAX))
      return Status::failure("shape must hold non-negative integers, got ",
                             dim.kind == JsonValue::Kind::Number
                                 ? dim.text
                                 : JsonValue::kindName(dim.kind));
    shape.push_back(static_cast<int64_t>(*d));
  }
  return Status::success();
}

/// Fills the name, dtype and shape of `spec` from `object`.
Status parseTensorSpec(const JsonValue &object, TensorSpec &spec) {
  if (object.kind != JsonValue::Kind::Object)
    return Status::failure("must be an object, got ",
                           JsonValue::kindName(object.kind));
  Expected<const JsonValue *> name =
      getField(object, "name", JsonValue::Kind::String);
  if (!name)
    return name.status();
  if ((*name)->text.empty())
    return Status::failure("field 'name' is empty");
  spec.name = (*name)->text;

  Expected<const JsonValue *> dtype =
      getField(object, "dtype", JsonValue::Kind::String);
  if (!dtype)
    return dtype.status();
  std::optional<DType> parsed = dtypeFromName((*dtype)->text);
  if (!parsed)
    return Status::failure("unknown dtype ", quote((*dtype)->text),
                           " (known: ", knownDTypes(), ")");
  spec.dtype = *parsed;

  Expected<const JsonValue *> shape =
      getField(object, "shape", JsonValue::Kind::Array);
  if (!shape)
    return shape.status();
  if (Status s = parseShape(**shape, spec.shape); !s.ok())
    return s;
  // The runtime allocates results and checks inputs by this size, so a shape
  // whose size overflows is rejected here rather than at run time.
  if (Expected<size_t> bytes = denseByteSize(spec.dtype, spec.shape); !bytes)
    return bytes.status();
  if (const JsonValue *perGroup = object.find("per_group")) {
    if (perGroup->kind != JsonValue::Kind::Bool)
      return Status::failure("field 'per_group' must be a boolean, got ",
                             JsonValue::kindName(perGroup->kind));
    spec.perGroup = perGroup->boolean;
    if (spec.perGroup && (spec.shape.empty() || spec.shape[0] < 1))
      return Status::failure("field 'per_group' needs a shape whose first "
                             "dimension (the rows of one group) is at least "
                             "1, got ",
                             shapeString(spec.shape));
  }
  spec.declaredShape = spec.shape;
  if (spec.perGroup)
    spec.declaredShape[0] = -1;
  return Status::success();
}

Status parseArg(const JsonValue &object, ArgSpec &arg) {
  if (Status s = parseTensorSpec(object, arg); !s.ok())
    return s;
  Expected<const JsonValue *> role =
      getField(object, "role", JsonValue::Kind::String);
  if (!role)
    return role.status();
  if ((*role)->text == "input")
    arg.role = ArgRole::Input;
  else if ((*role)->text == "weight")
    arg.role = ArgRole::Weight;
  else
    return Status::failure("unknown role ", quote((*role)->text),
                           " (expected 'input' or 'weight')");
  if (arg.role == ArgRole::Weight && arg.perGroup)
    return Status::failure("a weight cannot be 'per_group'");
  if (const JsonValue *strips = object.find("strips")) {
    Expected<int64_t> columns = parseCount(*strips, "strips");
    if (!columns)
      return columns.status();
    if (arg.role != ArgRole::Weight)
      return Status::failure("field 'strips' is only for weights");
    if (arg.shape.size() < 2)
      return Status::failure("field 'strips' needs a shape of rank 2 or "
                             "more, got rank ",
                             arg.shape.size());
    arg.strips = *columns;
  }
  return Status::success();
}

/// "args[1] ('w_gate'): " or "args[1]: " when the entry has no usable name.
std::string entryPrefix(const char *list, size_t index,
                        const JsonValue &object) {
  std::string prefix = std::string(list) + "[" + std::to_string(index) + "]";
  if (object.kind == JsonValue::Kind::Object)
    if (const JsonValue *name = object.find("name");
        name && name->kind == JsonValue::Kind::String && !name->text.empty())
      prefix += " (" + quote(name->text) + ")";
  return prefix + ": ";
}

/// The optional `abi` version (default 1) and, from version 2, the `checks`.
Status parseAbi(const JsonValue &object, Signature &signature) {
  if (const JsonValue *abi = object.find("abi")) {
    std::optional<uint64_t> version = abi->asUint64();
    if (!version || *version < 1 || *version > kMaxAbiVersion)
      return Status::failure("field 'abi' must be from 1 to 6, got ",
                             abi->kind == JsonValue::Kind::Number
                                 ? abi->text
                                 : JsonValue::kindName(abi->kind));
    signature.abiVersion = static_cast<int>(*version);
  }
  const JsonValue *checks = object.find("checks");
  if (!checks)
    return Status::success();
  if (signature.abiVersion < 2)
    return Status::failure("field 'checks' needs 'abi': 2 or later");
  Expected<const JsonValue *> list =
      getField(object, "checks", JsonValue::Kind::Array);
  if (!list)
    return list.status();
  for (const JsonValue &message : (*list)->elements) {
    if (message.kind != JsonValue::Kind::String)
      return Status::failure("field 'checks' must hold strings, got ",
                             JsonValue::kindName(message.kind));
    signature.checks.push_back(message.text);
  }
  return Status::success();
}

/// The optional `cpu`: {"name": string, "features": [string, ...]}.
Status parseCpu(const JsonValue &object, Signature &signature) {
  if (!object.find("cpu"))
    return Status::success();
  Expected<const JsonValue *> cpu =
      getField(object, "cpu", JsonValue::Kind::Object);
  if (!cpu)
    return cpu.status();
  CpuSpec spec;
  Expected<const JsonValue *> name =
      getField(**cpu, "name", JsonValue::Kind::String);
  if (!name)
    return name.status().withPrefix("cpu: ");
  spec.name = (*name)->text;
  Expected<const JsonValue *> features =
      getField(**cpu, "features", JsonValue::Kind::Array);
  if (!features)
    return features.status().withPrefix("cpu: ");
  for (const JsonValue &feature : (*features)->elements) {
    if (feature.kind != JsonValue::Kind::String)
      return Status::failure("cpu: field 'features' must hold strings, got ",
                             JsonValue::kindName(feature.kind));
    spec.features.push_back(feature.text);
  }
  signature.cpu = std::move(spec);
  return Status::success();
}

/// The optional `device`: "cpu" (the default), "cuda" or "opencl".
Status parseDevice(const JsonValue &object, Signature &signature) {
  if (!object.find("device"))
    return Status::success();
  Expected<const JsonValue *> device =
      getField(object, "device", JsonValue::Kind::String);
  if (!device)
    return device.status();
  if ((*device)->text == "cpu")
    signature.device = DeviceKind::Cpu;
  else if ((*device)->text == "cuda")
    signature.device = DeviceKind::Cuda;
  else if ((*device)->text == "opencl")
    signature.device = DeviceKind::OpenCL;
  else
    return Status::failure(
        "field 'device' must be 'cpu', 'cuda' or 'opencl', got ",
        quote((*device)->text));
  return Status::success();
}

/// Three sizes of a launch ("grid", "block"), each from 1 to 2^31 - 1.
Status parseDims(const JsonValue &launch, std::string_view name,
                 std::array<unsigned, 3> &dims) {
  Expected<const JsonValue *> list =
      getField(launch, name, JsonValue::Kind::Array);
  if (!list)
    return list.status();
  if ((*list)->elements.size() != 3)
    return Status::failure("field ", quote(name), " must hold 3 sizes");
  for (size_t d = 0; d < 3; ++d) {
    std::optional<uint64_t> size = (*list)->elements[d].asUint64();
    if (!size || *size < 1 || *size > 0x7fffffffu)
      return Status::failure("field ", quote(name),
                             " must hold sizes from 1 to 2147483647");
    dims[d] = static_cast<unsigned>(*size);
  }
  return Status::success();
}

/// ABI 6: `launches` and `workspace_bytes` of a GPU artifact.
Status parseLaunches(const JsonValue &object, Signature &signature) {
  if (signature.device == DeviceKind::Cpu)
    return object.find("launches")
               ? Status::failure("field 'launches' needs a GPU 'device'")
               : Status::success();
  if (signature.abiVersion < 6)
    return Status::failure("a GPU 'device' needs 'abi': 6 or later");
  Expected<const JsonValue *> launches =
      getField(object, "launches", JsonValue::Kind::Array);
  if (!launches)
    return launches.status();
  Expected<const JsonValue *> workspace =
      getField(object, "workspace_bytes", JsonValue::Kind::Number);
  if (!workspace)
    return workspace.status();
  std::optional<uint64_t> bytes = (*workspace)->asUint64();
  if (!bytes || *bytes > (uint64_t(1) << 62))
    return Status::failure("field 'workspace_bytes' must be a byte count");
  signature.workspaceBytes = static_cast<int64_t>(*bytes);
  // Buffers: the arguments, the results, the workspace.
  size_t buffers = signature.args.size() + signature.results.size() + 1;
  for (size_t i = 0; i < (*launches)->elements.size(); ++i) {
    const JsonValue &item = (*launches)->elements[i];
    std::string prefix = "launches[" + std::to_string(i) + "]: ";
    Launch launch;
    Expected<const JsonValue *> kernel =
        getField(item, "kernel", JsonValue::Kind::String);
    if (!kernel)
      return kernel.status().withPrefix(prefix);
    launch.kernel = (*kernel)->text;
    if (Status s = parseDims(item, "grid", launch.grid); !s.ok())
      return s.withPrefix(prefix);
    if (Status s = parseDims(item, "block", launch.block); !s.ok())
      return s.withPrefix(prefix);
    Expected<const JsonValue *> args =
        getField(item, "args", JsonValue::Kind::Array);
    if (!args)
      return args.status().withPrefix(prefix);
    for (const JsonValue &arg : (*args)->elements) {
      if (arg.kind != JsonValue::Kind::Object || arg.members.size() != 1)
        return Status::failure(prefix, "an argument must be an object of one "
                                       "field ('arg', 'i64', 'f32', ...)");
      const JsonMember &member = arg.members.front();
      LaunchArg value;
      if (member.key == "arg") {
        std::optional<uint64_t> index = member.value.asUint64();
        if (!index || *index >= buffers)
          return Status::failure(prefix, "'arg' must name one of the ", buffers,
                                 " buffers");
        value.index = static_cast<size_t>(*index);
      } else if (member.key == "i64" || member.key == "i32" ||
                 member.key == "i1" || member.key == "i8" ||
                 member.key == "f32" || member.key == "f64") {
        value.isBuffer = false;
        value.bytes = member.key == "i64" || member.key == "f64"   ? 8
                      : member.key == "i32" || member.key == "f32" ? 4
                                                                   : 1;
        if (member.value.kind != JsonValue::Kind::Number)
          return Status::failure(prefix, "a scalar must be a number");
        const char *text = member.value.text.c_str();
        if (member.key[0] == 'f') {
          double real = std::strtod(text, nullptr);
          if (value.bytes == 8) {
            std::memcpy(&value.bits, &real, 8);
          } else {
            float narrow = static_cast<float>(real);
            std::memcpy(&value.bits, &narrow, 4);
          }
        } else {
          value.bits = static_cast<uint64_t>(std::strtoll(text, nullptr, 10));
        }
      } else {
        return Status::failure(prefix, "unknown argument kind ",
                               quote(member.key));
      }
      launch.args.push_back(value);
    }
    signature.launches.push_back(std::move(launch));
  }
  return Status::success();
}

Expected<Signature> parseSignatureImpl(std::string_view text) {
  Expected<JsonValue> json = parseJson(text);
  if (!json)
    return json.status().withPrefix("malformed JSON ");
  if (json->kind != JsonValue::Kind::Object)
    return Status::failure("must be a JSON object, got ",
                           JsonValue::kindName(json->kind));
  Signature signature;
  Expected<const JsonValue *> entry =
      getField(*json, "entry", JsonValue::Kind::String);
  if (!entry)
    return entry.status();
  signature.entry = (*entry)->text;

  Expected<const JsonValue *> args =
      getField(*json, "args", JsonValue::Kind::Array);
  if (!args)
    return args.status();
  Expected<const JsonValue *> results =
      getField(*json, "results", JsonValue::Kind::Array);
  if (!results)
    return results.status();

  std::set<std::string> names;
  auto checkUnique = [&](const std::string &name) {
    return names.insert(name).second
               ? Status::success()
               : Status::failure("duplicate name ", quote(name),
                                 " (argument and result names must be "
                                 "unique)");
  };
  for (size_t i = 0; i < (*args)->elements.size(); ++i) {
    const JsonValue &object = (*args)->elements[i];
    ArgSpec arg;
    Status s = parseArg(object, arg);
    if (s.ok())
      s = checkUnique(arg.name);
    if (!s.ok())
      return s.withPrefix(entryPrefix("args", i, object));
    signature.args.push_back(std::move(arg));
  }
  for (size_t i = 0; i < (*results)->elements.size(); ++i) {
    const JsonValue &object = (*results)->elements[i];
    TensorSpec result;
    Status s = parseTensorSpec(object, result);
    if (s.ok())
      s = checkUnique(result.name);
    if (!s.ok())
      return s.withPrefix(entryPrefix("results", i, object));
    signature.results.push_back(std::move(result));
  }
  // An entry point writes its results into caller buffers; with none it
  // could have no observable effect, which means a broken artifact.
  if (signature.results.empty())
    return Status::failure("'results' is empty");
  if (Status s = parseAbi(*json, signature); !s.ok())
    return s;
  if (Status s = parseCpu(*json, signature); !s.ok())
    return s;
  if (Status s = parseDevice(*json, signature); !s.ok())
    return s;
  if (Status s = parseLaunches(*json, signature); !s.ok())
    return s;
  for (size_t i = 0; i < signature.args.size(); ++i)
    if (signature.args[i].strips != 0 && signature.abiVersion < 4)
      return Status::failure(entryPrefix("args", i, (*args)->elements[i]),
                             "field 'strips' needs 'abi': 4 or later");
  if (const JsonValue *perCall = json->find("groups_per_call")) {
    Expected<int64_t> count = parseCount(*perCall, "groups_per_call");
    if (!count)
      return count.status();
    if (!signature.hasGroups())
      return Status::failure(
          "field 'groups_per_call' needs 'per_group' tensors");
    signature.groupsPerCall = *count;
    for (const TensorSpec *spec : signature.perGroupTensors())
      if (Expected<size_t> bytes =
              denseByteSize(spec->dtype, spec->shapeFor(*count));
          !bytes)
        return bytes.status().withPrefix(quote(spec->name) + ": ");
  }
  if (signature.hasGroups()) {
    if (signature.abiVersion < 5)
      return Status::failure("field 'per_group' needs 'abi': 5 or later");
    // The inputs tell how many groups a call has.
    bool groupedInput = false;
    for (const ArgSpec &arg : signature.args)
      groupedInput |= arg.perGroup;
    if (!groupedInput)
      return Status::failure("results are 'per_group' but no input is");
  }
  return signature;
}

} // namespace

std::string_view moe::deviceKindName(DeviceKind kind) {
  switch (kind) {
  case DeviceKind::Cpu:
    return "cpu";
  case DeviceKind::Cuda:
    return "cuda";
  case DeviceKind::OpenCL:
    return "opencl";
  }
  return "cpu";
}

std::string_view moe::argRoleName(ArgRole role) {
  return role == ArgRole::Input ? "input" : "weight";
}

std::string TensorSpec::typeString() const {
  std::string text = std::string(dtypeName(dtype)) + " " + shapeString(shape);
  if (perGroup) {
    size_t open = text.find('['), end = text.find_first_of(",]", open);
    text.replace(open + 1, end - open - 1,
                 shape[0] == 1 ? "G" : std::to_string(shape[0]) + "*G");
  }
  return text;
}

bool TensorSpec::matches(const HostTensor &tensor) const {
  return matches(tensor.dtype(), tensor.shape());
}

bool TensorSpec::matches(DType type, const std::vector<int64_t> &dims) const {
  if (type != dtype)
    return false;
  if (!perGroup)
    return dims == shape;
  return dims.size() == shape.size() && dims[0] > 0 &&
         dims[0] % shape[0] == 0 &&
         std::equal(dims.begin() + 1, dims.end(), shape.begin() + 1);
}

std::vector<int64_t> TensorSpec::shapeFor(int64_t groups) const {
  std::vector<int64_t> dims = shape;
  if (perGroup)
    dims[0] *= groups;
  return dims;
}

int64_t TensorSpec::groupsIn(const HostTensor &tensor) const {
  return perGroup ? tensor.shape()[0] / shape[0] : 1;
}

std::vector<const TensorSpec *> Signature::perGroupTensors() const {
  std::vector<const TensorSpec *> specs;
  for (const ArgSpec &arg : args)
    if (arg.perGroup)
      specs.push_back(&arg);
  for (const TensorSpec &result : results)
    if (result.perGroup)
      specs.push_back(&result);
  return specs;
}

bool Signature::hasGroups() const { return !perGroupTensors().empty(); }

const ArgSpec *Signature::findArg(std::string_view name) const {
  for (const ArgSpec &arg : args)
    if (arg.name == name)
      return &arg;
  return nullptr;
}

size_t Signature::count(ArgRole role) const {
  size_t n = 0;
  for (const ArgSpec &arg : args)
    n += arg.role == role;
  return n;
}

std::string Signature::argNames(ArgRole role) const {
  std::string names;
  for (const ArgSpec &arg : args)
    if (arg.role == role)
      names += (names.empty() ? "" : ", ") + quote(arg.name);
  return names;
}

std::string Signature::resultNames() const {
  std::string names;
  for (const TensorSpec &result : results)
    names += (names.empty() ? "" : ", ") + quote(result.name);
  return names;
}

Expected<Signature> moe::parseSignature(std::string_view json) {
  Expected<Signature> signature = parseSignatureImpl(json);
  if (!signature)
    return signature.status().withPrefix("signature: ");
  return signature;
}
