//===- FuzzCheck.h - Property checks of the fuzz targets --------*- C++ -*-===//
//
// A violated property is a finding like a crash: it prints what went wrong
// and aborts, so libFuzzer saves the input (crash-<sha1>).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TEST_FUZZ_FUZZCHECK_H
#define MOE_TEST_FUZZ_FUZZCHECK_H

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace moe::fuzz {

[[noreturn]] inline void fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "==fuzz property violated: %.*s\n%.*s\n",
               static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline void check(bool property, std::string_view what,
                  std::string_view detail = {}) {
  if (!property)
    fail(what, detail);
}

/// The runtime's loaders promise failures that are one line of printable
/// ASCII starting with `prefix` ("npy file '<path>': ", ...), whatever the
/// file contains (runtime/Status.h, quote()).
inline void checkMessage(std::string_view message, std::string_view prefix) {
  check(message.substr(0, prefix.size()) == prefix,
        "the failure does not start with the reader's prefix", message);
  check(message.size() > prefix.size(), "the failure says nothing", message);
  for (char c : message)
    check(c >= 0x20 && c < 0x7f,
          "the failure is not one line of printable ASCII", message);
}

} // namespace moe::fuzz

#endif // MOE_TEST_FUZZ_FUZZCHECK_H
