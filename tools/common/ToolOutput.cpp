//===- ToolOutput.cpp - moe-compile's and moe-opt's output file -----------===//

#include "tools/common/ToolOutput.h"

using namespace moe;

namespace {
/// A raw_ostream onto an OutputFile that keeps the first write error.
class OutputFileStream : public llvm::raw_ostream {
public:
  explicit OutputFileStream(OutputFile &file) : file(file) {}
  ~OutputFileStream() override { flush(); }

  /// The first write error; call after flush().
  const Status &status() const { return writeStatus; }

private:
  void write_impl(const char *ptr, size_t size) override {
    if (writeStatus.ok())
      writeStatus = file.write(ptr, size);
    position += size;
  }
  uint64_t current_pos() const override { return position; }

  OutputFile &file;
  Status writeStatus = Status::success();
  uint64_t position = 0;
};
} // namespace

llvm::LogicalResult moe::writeToolOutput(
    llvm::StringRef path, FileMode mode,
    llvm::function_ref<llvm::LogicalResult(llvm::raw_ostream &)> print,
    std::string &error) {
  error.clear();
  if (path == "-") {
    llvm::raw_fd_ostream &os = llvm::outs();
    llvm::LogicalResult printed = print(os);
    os.flush();
    if (std::error_code ec = os.error()) {
      // Cleared, or the stream would abort the process when it is destroyed.
      os.clear_error();
      error = "cannot write to stdout: " + ec.message();
      return llvm::failure();
    }
    return printed;
  }

  std::string target = path.str();
  Expected<OutputFile> file = OutputFile::create(target, mode);
  if (!file) {
    error = "output " + quote(target) + ": " + file.message();
    return llvm::failure();
  }
  // Destroyed before the file, so the file is abandoned (and the target left
  // alone) after a failed print.
  OutputFileStream os(*file);
  if (llvm::failed(print(os)))
    return llvm::failure();
  os.flush();
  Status written = os.status().ok() ? file->close() : os.status();
  if (!written.ok()) {
    error = "output " + quote(target) + ": " + written.message();
    return llvm::failure();
  }
  return llvm::success();
}
