//===- Options.cpp - moe-run's command line -------------------------------===//

#include "Options.h"

#include "runtime/ThreadPool.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string_view>

using namespace moe;

namespace {
// Bound on --bench, so a typo cannot start a run of hours.
constexpr int64_t kMaxBenchRuns = 1000000;

/// Whether `text` is a tensor name as lists spell it: a letter or '_', then
/// letters, digits, '_', '.' or '-'.
bool isListName(std::string_view text) {
  auto letter = [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
  };
  auto other = [&](char c) {
    return letter(c) || std::isdigit(static_cast<unsigned char>(c)) ||
           c == '.' || c == '-';
  };
  return !text.empty() && letter(text[0]) &&
         std::all_of(text.begin() + 1, text.end(), other);
}

/// The length of the NAME of a `NAME=...` item; npos when `item` does not
/// start with one (it is a bare path).
size_t nameLength(std::string_view item) {
  size_t equals = item.find('=');
  return equals != std::string_view::npos && isListName(item.substr(0, equals))
             ? equals
             : std::string_view::npos;
}

/// Splits "a=x.npy,b=y.npy" (or a bare "x.npy") into NamedPaths. Only a
/// comma followed by NAME= separates items, so paths may contain commas.
Status parseList(std::string_view option, const std::string &value,
                 std::vector<NamedPath> &list) {
  std::string_view text = value;
  std::vector<std::string_view> items;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == ',' &&
        nameLength(text.substr(i + 1)) != std::string_view::npos) {
      items.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  items.push_back(text.substr(start));
  for (std::string_view item : items) {
    NamedPath entry;
    size_t length = nameLength(item);
    if (length == std::string_view::npos) {
      entry.path = std::string(item);
    } else {
      entry.name = std::string(item.substr(0, length));
      entry.path = std::string(item.substr(length + 1));
    }
    if (entry.path.empty())
      return Status::failure(option, ": empty path in ", quote(value));
    list.push_back(std::move(entry));
  }
  return Status::success();
}

/// A bare path stands for the one default tensor, so it cannot be combined
/// with others, in one list or over repetitions of the option.
Status checkBarePathIsAlone(std::string_view option,
                            const std::vector<NamedPath> &list) {
  if (list.size() > 1)
    for (const NamedPath &entry : list)
      if (entry.name.empty())
        return Status::failure(
            option, ": ", quote(entry.path),
            " has no 'NAME=' and must then be the only path; write "
            "NAME=PATH for each");
  return Status::success();
}

Expected<double> parseTolerance(std::string_view option,
                                const std::string &value) {
  char *end = nullptr;
  errno = 0;
  double number = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno == ERANGE ||
      !std::isfinite(number) || number < 0)
    return Status::failure(option, " expects a non-negative number, got ",
                           quote(value));
  return number;
}

Expected<int64_t> parseRuns(std::string_view option, const std::string &value) {
  char *end = nullptr;
  errno = 0;
  long long number = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno == ERANGE || number < 1 ||
      number > kMaxBenchRuns)
    return Status::failure(option, " expects a number of runs from 1 to ",
                           kMaxBenchRuns, ", got ", quote(value));
  return static_cast<int64_t>(number);
}

Expected<unsigned> parseThreads(std::string_view option,
                                const std::string &value) {
  char *end = nullptr;
  errno = 0;
  long long number = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno == ERANGE || number < 1 ||
      number > kMaxThreads)
    return Status::failure(option, " expects a number of threads from 1 to ",
                           kMaxThreads, ", got ", quote(value));
  return static_cast<unsigned>(number);
}

Status setOnce(std::string_view option, std::string &slot,
               const std::string &value) {
  if (!slot.empty())
    return Status::failure(option, " is given twice");
  if (value.empty())
    return Status::failure(option, " expects a path");
  slot = value;
  return Status::success();
}
} // namespace

Expected<Options> moe::parseOptions(int argc, const char *const *argv) {
  Options options;
  bool sawAtol = false, sawRtol = false, sawBench = false, sawThreads = false,
       sawDevice = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      if (arg.size() > 1 && arg[0] == '-')
        return Status::failure("unknown option ", quote(arg), " (see --help)");
      if (!options.model.empty())
        return Status::failure("more than one model given: ",
                               quote(options.model), " and ", quote(arg));
      options.model = arg;
      continue;
    }
    std::string name = arg, value;
    bool hasValue = false;
    if (size_t equals = arg.find('='); equals != std::string::npos) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
      hasValue = true;
    }

    // Flags.
    bool *flag = name == "--stats"        ? &options.stats
                 : name == "--entry-info" ? &options.entryInfo
                 : name == "--help"       ? &options.help
                                          : nullptr;
    if (flag) {
      if (hasValue)
        return Status::failure(name, " takes no value");
      *flag = true;
      continue;
    }

    // Options with a value.
    static const char *const kValued[] = {
        "--weights", "--inputs", "--output", "--output-dir", "--check",
        "--atol",    "--rtol",   "--bench",  "--threads",    "--device"};
    bool known = false;
    for (const char *valued : kValued)
      known |= name == valued;
    if (!known)
      return Status::failure("unknown option ", quote(name), " (see --help)");
    if (!hasValue) {
      if (i + 1 == argc)
        return Status::failure(name, " expects a value");
      value = argv[++i];
    }

    Status s = Status::success();
    if (name == "--weights") {
      s = setOnce(name, options.weights, value);
    } else if (name == "--output-dir") {
      s = setOnce(name, options.outputDir, value);
    } else if (name == "--inputs") {
      s = parseList(name, value, options.inputs);
    } else if (name == "--output") {
      s = parseList(name, value, options.outputs);
    } else if (name == "--check") {
      s = parseList(name, value, options.checks);
    } else if (name == "--bench") {
      if (sawBench)
        return Status::failure(name, " is given twice");
      sawBench = true;
      Expected<int64_t> runs = parseRuns(name, value);
      if (!runs)
        return runs.status();
      options.benchRuns = *runs;
    } else if (name == "--device") {
      if (sawDevice)
        return Status::failure(name, " is given twice");
      sawDevice = true;
      if (value != "cpu" && value != "cuda" && value != "opencl")
        return Status::failure(name, " expects cpu, cuda or opencl, got ",
                               quote(value));
      options.device = value;
    } else if (name == "--threads") {
      if (sawThreads)
        return Status::failure(name, " is given twice");
      sawThreads = true;
      Expected<unsigned> threads = parseThreads(name, value);
      if (!threads)
        return threads.status();
      options.threads = *threads;
    } else {
      bool &seen = name == "--atol" ? sawAtol : sawRtol;
      if (seen)
        return Status::failure(name, " is given twice");
      seen = true;
      Expected<double> tolerance = parseTolerance(name, value);
      if (!tolerance)
        return tolerance.status();
      (name == "--atol" ? options.atol : options.rtol) = *tolerance;
    }
    if (!s.ok())
      return s;
  }

  if (options.help)
    return options;
  for (auto [name, list] : {std::pair{"--inputs", &options.inputs},
                            std::pair{"--output", &options.outputs},
                            std::pair{"--check", &options.checks}})
    if (Status s = checkBarePathIsAlone(name, *list); !s.ok())
      return s;
  if (options.model.empty())
    return Status::failure("no model given (see --help)");
  if (!options.outputs.empty() && !options.outputDir.empty())
    return Status::failure("--output and --output-dir cannot be combined");
  if ((sawAtol || sawRtol) && options.checks.empty())
    return Status::failure("--atol and --rtol need --check");
  return options;
}

const char *moe::usage() {
  return R"(moe-run: run a compiled MoE model, check and time it.

usage: moe-run MODEL [options]

MODEL is a CPU artifact (.so) built by moe-compile; .mlir models run through
the JIT where it is built in.

  --weights FILE.safetensors   bind every weight of the model by name
  --inputs X.npy | NAME=X.npy[,NAME=X.npy]
                               bind inputs (a bare path: the only input)
  --output Y.npy | NAME=Y.npy[,NAME=Y.npy]
                               write results (a bare path: the first result)
  --output-dir DIR             write every result to DIR/NAME.npy
  --check REF.npy | NAME=REF.npy[,NAME=REF.npy]
                               compare results (a bare path: the first result)
                               and print max abs/rel errors; exit 1 on FAIL
  --atol A, --rtol R           PASS if |got - ref| <= A + R * |ref| for every
                               element (defaults 1e-5 and 1e-4)
  --stats                      print the routing statistics results:
                               expert_load (per expert), dropped_tokens,
                               dropped_assignments, importance_loss,
                               invalid_tokens
  --bench N                    time N runs after one warm-up; print median
                               and min milliseconds
  --threads N                  run the model's parallel work on N threads
                               (default: MOE_NUM_THREADS, else the CPUs this
                               process may run on); results are bitwise the
                               same for every N
  --device cpu|cuda|opencl     the device the model must run on (default: the
                               artifact's: cpu, or a GPU artifact's cuda or
                               opencl); cuda opens CUDA device 0 through the
                               driver found at run time (libcuda.so.1, or
                               MOE_CUDA_DRIVER) and fails in one line without
                               one; opencl the first OpenCL device
  --entry-info                 print the entry's signature and exit
  --help                       print this text and exit

--inputs, --output and --check take a bare path or NAME=PATH items and may be
repeated (--check out=a.npy --check slot_token=b.npy). Only a comma followed
by NAME= separates items, so paths may contain commas (x=dir,v2/x.npy). NAME
is a letter or '_', then letters, digits, '_', '.' or '-'; a value whose text
before '=' is no such NAME is a bare path: write ./x=1.npy for a file named
x=1.npy.

Every output is checked before the model runs: its folder must exist and be
writable (--output-dir DIR is created, in a writable folder). A result
replaces its file only once completely written, so a failed write leaves the
file as it was; devices and FIFOs are written in place, symbolic links are
followed and kept.

Exit status: 0 success, 1 a check failed, 2 an error (one line on stderr,
"moe-run: error: ..."). moe-run never overwrites a file given as an input,
nor writes two results to one file, however the paths are spelled (links
included).
)";
}
