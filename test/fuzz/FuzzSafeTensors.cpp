//===- FuzzSafeTensors.cpp - libFuzzer target: the .safetensors reader ----===//
//
// Reads the input as a .safetensors file (runtime/SafeTensors.h). A failure
// must be one line naming the file; a file that reads must write back and read
// again to the same tensors and metadata.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"
#include "ScratchDirectory.h"

#include "runtime/SafeTensors.h"

#include <cstring>

using namespace moe;
using namespace moe::fuzz;

namespace {
bool sameTensors(const std::map<std::string, HostTensor> &a,
                 const std::map<std::string, HostTensor> &b) {
  if (a.size() != b.size())
    return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
    const HostTensor &x = i->second, &y = j->second;
    if (i->first != j->first || x.dtype() != y.dtype() ||
        x.shape() != y.shape())
      return false;
    if (x.byteSize() != 0 &&
        std::memcmp(x.bytes(), y.bytes(), x.byteSize()) != 0)
      return false;
  }
  return true;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const ScratchDirectory scratch;
  const std::string input = scratch.write("input.safetensors", data, size);
  const std::string copy = scratch.path("copy.safetensors");
  Expected<SafeTensorsFile> file = readSafeTensors(input);
  if (!file) {
    checkMessage(file.message(), "safetensors file " + quote(input) + ": ");
    return 0;
  }
  size_t bytes = 0;
  for (const auto &named : file->tensors)
    bytes += named.second.byteSize();
  check(bytes <= size, "the tensors hold more bytes than the file");

  Status written = writeSafeTensors(copy, file->tensors, file->metadata);
  check(written.ok(), "a file that reads does not write back",
        written.message());
  Expected<SafeTensorsFile> again = readSafeTensors(copy);
  check(again.ok(), "the written copy does not read back", again.message());
  check(sameTensors(file->tensors, again->tensors),
        "the copy reads back with different tensors");
  check(file->metadata == again->metadata,
        "the copy reads back with different metadata");
  return 0;
}
