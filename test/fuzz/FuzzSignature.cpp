//===- FuzzSignature.cpp - libFuzzer target: artifact signatures ----------===//
//
// Parses the input as an artifact's signature JSON (runtime/Signature.h,
// docs/artifact-abi.md). A failure must be one line starting "signature: "; a
// signature that parses must hold what parseSignature promises: non-empty
// unique names, at least one result, shapes whose byte size fits the host.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "runtime/Json.h"
#include "runtime/Signature.h"

#include <set>

using namespace moe;
using namespace moe::fuzz;

namespace {
void checkSpec(const TensorSpec &spec, std::set<std::string> &names) {
  check(!spec.name.empty(), "a tensor has an empty name");
  check(names.insert(spec.name).second, "a name is not unique", spec.name);
  check(denseByteSize(spec.dtype, spec.shape).ok(),
        "a shape's byte size does not fit", spec.typeString());
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  Expected<Signature> signature = parseSignature(text);
  if (!signature) {
    checkMessage(signature.message(), "signature: ");
    return 0;
  }
  check(!signature->results.empty(), "a signature has no results");
  std::set<std::string> names;
  for (const ArgSpec &arg : signature->args)
    checkSpec(arg, names);
  for (const TensorSpec &result : signature->results)
    checkSpec(result, names);

  // Names are decoded JSON strings: they must encode back to themselves.
  for (const std::string &name : names) {
    std::string encoded;
    appendJsonString(encoded, name);
    Expected<JsonValue> decoded = parseJson(encoded);
    check(decoded.ok() && decoded->kind == JsonValue::Kind::String &&
              decoded->text == name,
          "a name does not survive appendJsonString + parseJson", encoded);
  }
  return 0;
}
