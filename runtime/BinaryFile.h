//===- BinaryFile.h - Checked sequential file reads and writes --*- C++ -*-===//
//
// The loaders read a file front to back, checking every read against the size
// of the file, so a truncated or lying file yields a Status, never an
// out-of-bounds read. Messages do not name the file; callers prefix it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_BINARYFILE_H
#define MOE_RUNTIME_BINARYFILE_H

#include "runtime/Status.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace moe {

/// A regular file opened for sequential reading.
class InputFile {
public:
  static Expected<InputFile> open(const std::string &path);

  /// The file's size in bytes when it was opened.
  uint64_t size() const { return fileSize; }
  /// Bytes not yet read.
  uint64_t remaining() const { return fileSize - position; }

  /// Reads exactly `count` bytes into `dst`; fails without reading if fewer
  /// than `count` bytes remain.
  Status read(void *dst, uint64_t count);

private:
  struct Close {
    void operator()(std::FILE *f) const { std::fclose(f); }
  };
  InputFile(std::unique_ptr<std::FILE, Close> opened, uint64_t size)
      : file(std::move(opened)), fileSize(size) {}

  std::unique_ptr<std::FILE, Close> file;
  uint64_t fileSize;
  uint64_t position = 0;
};

/// A file created (or truncated) for writing. Call close() and check its
/// Status: buffered write errors surface there. A file that is not closed
/// successfully is removed, so a failed write leaves no truncated file behind.
class OutputFile {
public:
  static Expected<OutputFile> create(const std::string &path);

  OutputFile(OutputFile &&) = default;
  OutputFile &operator=(OutputFile &&) = delete;
  ~OutputFile();

  Status write(const void *src, uint64_t count);
  Status close();

private:
  struct Close {
    void operator()(std::FILE *f) const { std::fclose(f); }
  };
  OutputFile(std::unique_ptr<std::FILE, Close> created, std::string name)
      : file(std::move(created)), path(std::move(name)) {}

  std::unique_ptr<std::FILE, Close> file;
  std::string path;
};

} // namespace moe

#endif // MOE_RUNTIME_BINARYFILE_H
