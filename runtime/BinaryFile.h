//===- BinaryFile.h - Checked sequential file reads -------------*- C++ -*-===//
//
// The loaders read a file front to back, checking every read against the size
// of the file, so a truncated or lying file yields a Status, never an
// out-of-bounds read. Messages do not name the file; callers prefix it.
// Writing is OutputFile.h.
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

} // namespace moe

#endif // MOE_RUNTIME_BINARYFILE_H
