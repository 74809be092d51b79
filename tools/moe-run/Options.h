//===- Options.h - moe-run's command line -----------------------*- C++ -*-===//
//
// Parses the command line into Options without touching any file; moe-run.cpp
// checks the files against the model afterwards.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_OPTIONS_H
#define MOE_TOOLS_MOE_RUN_OPTIONS_H

#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moe {

/// One element of a `name=path[,name=path]` list. `name` is empty for a bare
/// path, which means the model's only input, or its first result. Items are
/// split only at a comma followed by NAME= (a letter or '_', then letters,
/// digits, '_', '.' or '-'), so paths may contain commas; text before '='
/// that is no such NAME makes the item a bare path (`./x=1.npy`).
struct NamedPath {
  std::string name;
  std::string path;
};

struct Options {
  std::string model;
  std::string weights;
  std::vector<NamedPath> inputs;
  std::vector<NamedPath> outputs;
  std::string outputDir;
  std::vector<NamedPath> checks;
  double atol = 1e-5;
  double rtol = 1e-4;
  bool stats = false;
  /// Timed runs after one warm-up; 0 when not benchmarking.
  int64_t benchRuns = 0;
  /// Threads for the model's grids of workgroups; 0: the runtime's default
  /// (MOE_NUM_THREADS, else the CPUs available).
  unsigned threads = 0;
  /// Where the model must run: "cpu", "cuda" or "opencl"; empty (the
  /// default): wherever the artifact's code runs.
  std::string device;
  bool entryInfo = false;
  bool help = false;
};

/// Parses `argv[1..argc)`. Options take their value as the next argument or
/// after '='; list options may be repeated.
Expected<Options> parseOptions(int argc, const char *const *argv);

/// The text of `moe-run --help`.
const char *usage();

} // namespace moe

#endif // MOE_TOOLS_MOE_RUN_OPTIONS_H
