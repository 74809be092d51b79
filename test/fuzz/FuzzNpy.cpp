//===- FuzzNpy.cpp - libFuzzer target: the .npy reader --------------------===//
//
// Reads the input as a .npy file (runtime/Npy.h). A failure must be one line
// naming the file; an array that reads must write back (numpy.save's bytes)
// and read again to the same dtype, shape and bytes.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"
#include "ScratchDirectory.h"

#include "runtime/Npy.h"

#include <cstring>

using namespace moe;
using namespace moe::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const ScratchDirectory scratch;
  const std::string input = scratch.write("input.npy", data, size);
  const std::string copy = scratch.path("copy.npy");
  Expected<HostTensor> tensor = readNpy(input);
  if (!tensor) {
    checkMessage(tensor.message(), "npy file " + quote(input) + ": ");
    return 0;
  }
  check(tensor->byteSize() <= size, "the array holds more bytes than the file");

  // writeNpy refuses only ranks above NumPy's limit (no .npy holds bf16).
  Status written = writeNpy(copy, *tensor);
  if (!written.ok()) {
    check(tensor->rank() > 64, "a read array does not write back",
          written.message());
    return 0;
  }
  Expected<HostTensor> again = readNpy(copy);
  check(again.ok(), "the written copy does not read back", again.message());
  check(again->dtype() == tensor->dtype() && again->shape() == tensor->shape(),
        "the copy reads back as a different type", again->typeString());
  check(tensor->byteSize() == 0 || std::memcmp(again->bytes(), tensor->bytes(),
                                               tensor->byteSize()) == 0,
        "the copy reads back with different bytes");
  return 0;
}
