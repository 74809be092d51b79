//===- moe-run.cpp - Run, check and time a compiled MoE model -------------===//
//
// A thin driver over the runtime (runtime/Model.h): it binds the files named
// on the command line, runs the model, and reports. Everything that can be
// checked before running is (names, shapes, output paths), so a bad command
// line fails fast with one line on stderr and exit status 2.
//
//===----------------------------------------------------------------------===//

#include "Compare.h"
#include "ElementValues.h"
#include "LoadModel.h"
#include "Options.h"
#include "RoutingStats.h"

#include "runtime/Npy.h"
#include "runtime/OutputFile.h"
#include "runtime/WeightPacking.h"
#include "runtime/cuda/CudaDevice.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>

#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

using namespace moe;

namespace {
constexpr int kExitSuccess = 0;
constexpr int kExitCheckFailed = 1;
constexpr int kExitError = 2;

namespace fs = std::filesystem;

/// A file that holds, or will hold, one result.
struct ResultFile {
  size_t result;
  std::string path;
};

/// A reference output for --check.
struct Check {
  size_t result;
  std::string path;
  HostTensor ref;
};

/// For a NAME=PATH item whose NAME names nothing: how to write it as the
/// file name it may have been meant to be.
std::string fileNameHint(const NamedPath &entry) {
  std::string file = entry.name + "=" + entry.path;
  return "; for a file named " + quote(file) + " write " + quote("./" + file);
}

/// For a NAME=PATH item that could not be read: the hint above when a file
/// of the whole name exists.
std::string misreadFileNameHint(const NamedPath &entry) {
  std::error_code ec;
  if (entry.name.empty() || !fs::exists(entry.name + "=" + entry.path, ec))
    return "";
  return fileNameHint(entry);
}

/// The result `entry` names: the first one for a bare path.
Expected<size_t> resultIndex(const Signature &signature, const char *option,
                             const NamedPath &entry) {
  if (entry.name.empty())
    return size_t(0);
  for (size_t i = 0; i < signature.results.size(); ++i)
    if (signature.results[i].name == entry.name)
      return i;
  return Status::failure(option, ": no result named ", quote(entry.name),
                         " (results: ", signature.resultNames(), ")",
                         fileNameHint(entry));
}

/// Resolves `list` to result indices, each named at most once.
Expected<std::vector<ResultFile>>
resolveResults(const Signature &signature, const char *option,
               const std::vector<NamedPath> &list) {
  std::vector<ResultFile> files;
  std::set<size_t> seen;
  for (const NamedPath &entry : list) {
    Expected<size_t> index = resultIndex(signature, option, entry);
    if (!index)
      return index.status();
    if (!seen.insert(*index).second)
      return Status::failure(option, ": result ",
                             quote(signature.results[*index].name),
                             " is given twice");
    files.push_back({*index, entry.path});
  }
  return files;
}

/// Whether `name` can be used as a file name as is: no separators, no
/// leading dot, nothing a shell would need quoted.
bool isPlainFileName(const std::string &name) {
  if (name.empty() || name[0] == '.')
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-' || c == '.';
  });
}

/// The files --output or --output-dir asks for.
Expected<std::vector<ResultFile>> outputFiles(const Options &options,
                                              const Signature &signature) {
  if (options.outputDir.empty())
    return resolveResults(signature, "--output", options.outputs);
  std::vector<ResultFile> files;
  for (size_t i = 0; i < signature.results.size(); ++i) {
    const std::string &name = signature.results[i].name;
    if (!isPlainFileName(name))
      return Status::failure("--output-dir: result name ", quote(name),
                             " is not a plain file name; write it with "
                             "--output NAME=PATH instead");
    files.push_back(
        {i, (fs::path(options.outputDir) / (name + ".npy")).string()});
  }
  return files;
}

/// Where a write to `path` lands, as an absolute path with every symbolic
/// link resolved (the end of a dangling link included), so that two
/// spellings of one file compare equal before the file exists.
std::string resolvedPath(const std::string &path) {
  Expected<std::string> target = resolveWriteTarget(path);
  std::error_code ec;
  fs::path absolute = fs::absolute(target ? *target : path, ec);
  fs::path canonical = fs::weakly_canonical(absolute, ec);
  return (ec ? absolute : canonical).lexically_normal().string();
}

/// Whether `a` and `b` are, or will be once written, the same file (hard
/// links included).
bool sameFile(const std::string &a, const std::string &b) {
  std::error_code ec;
  return resolvedPath(a) == resolvedPath(b) || fs::equivalent(a, b, ec);
}

/// Refuses outputs that would overwrite a file the user gave as an input
/// (model, weights, inputs, references), or collide with each other.
Status checkOutputsAreSafe(const std::vector<ResultFile> &outputs,
                           const Options &options, const Signature &signature) {
  std::vector<std::string> inputs = {options.model};
  if (!options.weights.empty())
    inputs.push_back(options.weights);
  for (const std::vector<NamedPath> *list : {&options.inputs, &options.checks})
    for (const NamedPath &entry : *list)
      inputs.push_back(entry.path);

  for (size_t i = 0; i < outputs.size(); ++i) {
    const ResultFile &output = outputs[i];
    const std::string &name = signature.results[output.result].name;
    for (const std::string &input : inputs)
      if (sameFile(output.path, input))
        return Status::failure("refusing to write result ", quote(name), " to ",
                               quote(output.path), ": it is an input file (",
                               quote(input), ")");
    for (size_t j = 0; j < i; ++j)
      if (sameFile(output.path, outputs[j].path))
        return Status::failure(
            "two results would be written to the same file: ",
            quote(signature.results[outputs[j].result].name), " to ",
            quote(outputs[j].path), " and ", quote(name), " to ",
            quote(output.path));
  }
  return Status::success();
}

/// The nearest folder of `dir` (itself included) that exists.
fs::path nearestExistingFolder(const std::string &dir) {
  std::error_code ec;
  fs::path folder = fs::absolute(dir, ec).lexically_normal();
  while (!fs::exists(folder, ec) && folder.has_relative_path())
    folder = folder.parent_path();
  return folder;
}

/// Refuses, before the model runs, outputs that cannot be written: a missing
/// or read-only folder, a directory in the way. --output-dir's folder may
/// not exist yet; the folder it will be created in must be writable.
Status checkOutputsAreWritable(const std::vector<ResultFile> &outputs,
                               const Options &options,
                               const Signature &signature) {
  std::error_code ec;
  if (!options.outputDir.empty() && !fs::exists(options.outputDir, ec)) {
    fs::path folder = nearestExistingFolder(options.outputDir);
    if (!fs::is_directory(folder, ec) ||
        ::access(folder.c_str(), W_OK | X_OK) != 0)
      return Status::failure(
          "--output-dir: cannot create ", quote(options.outputDir), ": ",
          quote(folder.string()), " is not a writable directory");
    return Status::success();
  }
  if (!options.outputDir.empty() && !fs::is_directory(options.outputDir, ec))
    return Status::failure("--output-dir: ", quote(options.outputDir),
                           " is not a directory");
  for (const ResultFile &output : outputs)
    if (Status s = checkOutputPath(output.path); !s.ok())
      return Status::failure(options.outputDir.empty() ? "--output"
                                                       : "--output-dir",
                             ": cannot write result ",
                             quote(signature.results[output.result].name),
                             " to ", quote(output.path), ": ", s.message());
  return Status::success();
}

Status bindFiles(Model &model, const Options &options) {
  const Signature &signature = model.signature();
  if (!options.weights.empty()) {
    if (Status s = model.bindWeights(options.weights); !s.ok())
      return s;
  } else if (size_t weights = signature.count(ArgRole::Weight)) {
    return Status::failure("the model has ", weights,
                           weights == 1 ? " weight (" : " weights (",
                           signature.argNames(ArgRole::Weight),
                           "); pass --weights FILE.safetensors");
  }

  std::set<std::string> bound;
  for (const NamedPath &input : options.inputs) {
    if (!input.name.empty()) {
      const ArgSpec *arg = signature.findArg(input.name);
      if (!arg || arg->role != ArgRole::Input)
        return Status::failure("--inputs: no input named ", quote(input.name),
                               " (inputs: ", signature.argNames(ArgRole::Input),
                               ")", fileNameHint(input));
    }
    Status s = input.name.empty() ? model.bindInputNpy(input.path)
                                  : model.bindInputNpy(input.name, input.path);
    if (!s.ok())
      return Status::failure("--inputs: ", s.message(),
                             misreadFileNameHint(input));
    // bindInputNpy succeeded, so a bare path bound the only input.
    std::string name = input.name;
    for (const ArgSpec &arg : signature.args)
      if (name.empty() && arg.role == ArgRole::Input)
        name = arg.name;
    if (!bound.insert(name).second)
      return Status::failure("--inputs: input ", quote(name),
                             " is given twice");
  }
  for (const ArgSpec &arg : signature.args)
    if (arg.role == ArgRole::Input && !bound.count(arg.name))
      return Status::failure(
          "input ", quote(arg.name), " is not bound; pass --inputs ",
          signature.count(ArgRole::Input) == 1 ? "FILE.npy"
                                               : arg.name + "=FILE.npy");
  return Status::success();
}

Expected<std::vector<Check>> loadChecks(const Options &options,
                                        const Signature &signature) {
  Expected<std::vector<ResultFile>> files =
      resolveResults(signature, "--check", options.checks);
  if (!files)
    return files.status();
  std::vector<Check> checks;
  for (size_t i = 0; i < files->size(); ++i) {
    ResultFile &file = (*files)[i];
    Expected<HostTensor> ref = readNpy(file.path);
    if (!ref)
      return Status::failure("--check: ", ref.message(),
                             misreadFileNameHint(options.checks[i]));
    const TensorSpec &result = signature.results[file.result];
    if (!result.matches(result.dtype, ref->shape()))
      return Status::failure(
          "--check: reference ", quote(file.path), " for result ",
          quote(result.name), " has shape ", ref->shapeString(), ", expected ",
          result.typeString().substr(result.typeString().find('[')));
    checks.push_back({file.result, std::move(file.path), std::move(*ref)});
  }
  return checks;
}

void printSignature(const Signature &signature, std::ostream &os) {
  size_t width = 0;
  for (const ArgSpec &arg : signature.args)
    width = std::max(width, arg.name.size());
  for (const TensorSpec &result : signature.results)
    width = std::max(width, result.name.size());
  auto pad = [&](const std::string &name) {
    return name + std::string(width - name.size(), ' ');
  };
  os << "entry: " << signature.entry << "\n";
  os << "args:\n";
  for (const ArgSpec &arg : signature.args)
    os << "  " << pad(arg.name) << "  " << std::left << std::setw(8)
       << argRoleName(arg.role) << std::right << arg.typeString()
       << (arg.strips != 0
               ? ", packed in strips of " + std::to_string(arg.strips) +
                     " as " +
                     moe::shapeString(stripPackedShape(arg.shape, arg.strips))
               : std::string())
       << "\n";
  os << "results:\n";
  for (const TensorSpec &result : signature.results)
    os << "  " << pad(result.name) << "  " << result.typeString() << "\n";
  if (signature.hasGroups())
    os << "groups per call: " << signature.groupsPerCall << "\n";
  os << "device: " << deviceKindName(signature.device) << "\n";
  if (signature.device != DeviceKind::Cpu)
    os << "kernel launches: " << signature.launches.size() << ", workspace "
       << signature.workspaceBytes << " bytes\n";
  if (signature.cpu) {
    os << "cpu: " << signature.cpu->name << "\n";
    os << "cpu features:";
    for (const std::string &feature : signature.cpu->features)
      os << " " << feature;
    os << (signature.cpu->features.empty() ? " none\n" : "\n");
  }
}

void printSummary(const std::string &name, const HostTensor &tensor,
                  std::ostream &os) {
  os << "result " << name << ": " << tensor.typeString();
  if (tensor.numElements() == 0) {
    os << "  (no elements)\n";
    return;
  }
  if (tensor.numElements() == 1) {
    os << "  value " << formatNumber(elementAt(tensor, 0)) << "\n";
    return;
  }
  double lowest = INFINITY, highest = -INFINITY, sum = 0;
  int64_t nans = 0;
  for (int64_t i = 0; i < tensor.numElements(); ++i) {
    double value = elementAt(tensor, i);
    if (std::isnan(value)) {
      ++nans;
      continue;
    }
    lowest = std::min(lowest, value);
    highest = std::max(highest, value);
    sum += value;
  }
  if (nans < tensor.numElements())
    os << "  min " << formatNumber(lowest) << "  max " << formatNumber(highest)
       << "  mean "
       << formatNumber(sum / static_cast<double>(tensor.numElements() - nans));
  if (nans)
    os << "  NaN " << nans;
  os << "\n";
}

/// Prints the check of one result; returns whether it passed.
bool reportCheck(const Check &check, const Model &model, const Options &options,
                 std::ostream &os) {
  const std::string &name = model.signature().results[check.result].name;
  const HostTensor &got = model.results()[check.result];
  Comparison comparison =
      compareTensors(got, check.ref, options.atol, options.rtol);
  os << "check " << name << ": max abs err "
     << formatNumber(comparison.maxAbsError) << ", max rel err "
     << formatNumber(comparison.maxRelError) << " (atol "
     << formatNumber(options.atol) << ", rtol " << formatNumber(options.rtol)
     << "): " << (comparison.passed() ? "PASS" : "FAIL");
  if (!comparison.passed()) {
    int64_t worst = comparison.worstIndex;
    os << ", " << comparison.mismatches << " of " << got.numElements()
       << " elements out of tolerance; worst at "
       << indexString(got.shape(), worst) << ": got "
       << formatNumber(elementAt(got, worst)) << ", expected "
       << formatNumber(elementAt(check.ref, worst));
  }
  os << "\n";
  return comparison.passed();
}

/// The median and the minimum of `millis` (sorted here), as the bench
/// prints them.
std::string medianAndMinimum(std::vector<double> &millis) {
  std::sort(millis.begin(), millis.end());
  size_t n = millis.size();
  double median =
      n % 2 ? millis[n / 2] : (millis[n / 2 - 1] + millis[n / 2]) / 2;
  return "median " + formatNumber(median) + " ms, min " +
         formatNumber(millis.front()) + " ms";
}

/// Runs `runs` more times, timed, and prints the median and minimum; for a
/// GPU artifact whose device measures it, also of the kernels' device time.
Status bench(Model &model, int64_t runs, std::ostream &os) {
  std::vector<double> millis, deviceMillis;
  millis.reserve(static_cast<size_t>(runs));
  for (int64_t i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (Status s = model.run(); !s.ok())
      return s;
    std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    millis.push_back(elapsed.count());
    if (std::optional<double> device = model.lastDeviceMilliseconds())
      deviceMillis.push_back(*device);
  }
  os << "bench: " << runs << (runs == 1 ? " run" : " runs")
     << " after 1 warm-up: " << medianAndMinimum(millis) << "\n";
  if (!deviceMillis.empty())
    os << "bench: kernels on the device (CUDA events): "
       << medianAndMinimum(deviceMillis) << "\n";
  return Status::success();
}

/// The exit status, or the error to report (exit status 2).
Expected<int> runTool(const Options &options) {
  if (options.device == "cuda") {
    // The device first: without a driver or a device nothing else matters.
    Expected<int> ordinal = selectedCudaDevice();
    if (!ordinal)
      return ordinal.status().withPrefix("--device cuda: ");
    Expected<std::shared_ptr<CudaDevice>> device = CudaDevice::open(*ordinal);
    if (!device)
      return device.status().withPrefix("--device cuda: ");
  }
  Expected<Model> model = loadModelFromPath(options.model);
  if (!model)
    return model.status();
  const Signature &signature = model->signature();
  if (!options.device.empty() &&
      options.device != deviceKindName(signature.device))
    return Status::failure(
        "--device ", options.device, ": ", quote(options.model),
        " holds code for ",
        signature.device == DeviceKind::Cpu
            ? std::string("the CPU (moe-compile --target=") + options.device +
                  " makes " + options.device + " artifacts)"
            : std::string("a ") +
                  std::string(deviceKindName(signature.device)) + " device");
  if (options.entryInfo) {
    printSignature(signature, std::cout);
    return kExitSuccess;
  }

  Expected<std::vector<ResultFile>> outputs = outputFiles(options, signature);
  if (!outputs)
    return outputs.status();
  if (Status s = checkOutputsAreSafe(*outputs, options, signature); !s.ok())
    return s;
  if (Status s = checkOutputsAreWritable(*outputs, options, signature); !s.ok())
    return s;
  if (Status s = bindFiles(*model, options); !s.ok())
    return s;
  if (options.threads)
    if (Status s = model->setThreads(options.threads); !s.ok())
      return s;
  Expected<std::vector<Check>> checks = loadChecks(options, signature);
  if (!checks)
    return checks.status();

  // With --bench this first run is the warm-up; its results are reported
  // (every run computes the same).
  if (Status s = model->run(); !s.ok())
    return s;
  for (size_t i = 0; i < signature.results.size(); ++i)
    printSummary(signature.results[i].name, model->results()[i], std::cout);

  if (!options.outputDir.empty()) {
    std::error_code ec;
    fs::create_directories(options.outputDir, ec);
    if (ec)
      return Status::failure("--output-dir: cannot create ",
                             quote(options.outputDir), ": ", ec.message());
  }
  // A result written to /dev/stdout then follows the summary lines.
  std::cout.flush();
  for (const ResultFile &output : *outputs) {
    if (Status s = writeNpy(output.path, model->results()[output.result]);
        !s.ok())
      return s;
    std::cout << "wrote " << signature.results[output.result].name << " to "
              << output.path << "\n";
  }

  if (options.stats)
    printRoutingStats(*model, std::cout);
  // A per-group result's rows depend on the inputs' groups.
  for (const Check &check : *checks)
    if (check.ref.shape() != model->results()[check.result].shape())
      return Status::failure(
          "--check: reference ", quote(check.path), " for result ",
          quote(signature.results[check.result].name), " has shape ",
          check.ref.shapeString(), ", but the inputs make it ",
          model->results()[check.result].shapeString());
  bool passed = true;
  for (const Check &check : *checks)
    passed &= reportCheck(check, *model, options, std::cout);
  if (options.benchRuns)
    if (Status s = bench(*model, options.benchRuns, std::cout); !s.ok())
      return s;
  return passed ? kExitSuccess : kExitCheckFailed;
}

int reportError(const std::string &message) {
  std::cout.flush();
  std::cerr << "moe-run: error: " << message << "\n";
  return kExitError;
}
/// Generated entries allocate their intermediate buffers on every call.
/// With glibc's defaults the large ones are mapped and unmapped each time,
/// so every call page-faults them in again (10-15% of a small layer's
/// time). The tool keeps freed memory in its heap instead: a repeated run
/// (--bench) costs what the code costs. Peak memory is unchanged.
void keepFreedBuffersInHeap() {
#ifdef __GLIBC__
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, -1);
#endif
}

} // namespace

int main(int argc, char **argv) {
  ignoreFileSizeLimitSignal();
  keepFreedBuffersInHeap();
  try {
    Expected<Options> options = parseOptions(argc, argv);
    if (!options)
      return reportError(options.message());
    if (options->help) {
      std::cout << usage();
      return kExitSuccess;
    }
    Expected<int> status = runTool(*options);
    if (!status)
      return reportError(status.message());
    return *status;
  } catch (const std::exception &e) {
    // Only allocation failures and the like get here; still one line, not a
    // crash.
    return reportError(std::string("internal error: ") + e.what());
  }
}
