//===- BinaryFile.cpp - Checked sequential file reads ---------------------===//

#include "runtime/BinaryFile.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

using namespace moe;

namespace {
std::string errnoMessage() {
  return std::error_code(errno, std::generic_category()).message();
}

// Large transfers go in pieces so no single stdio call sees a huge count.
constexpr uint64_t kChunk = uint64_t(1) << 30;
} // namespace

Expected<InputFile> InputFile::open(const std::string &path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st))
    return Status::failure("cannot open: ", ec ? ec.message() : "no such file");
  if (!fs::is_regular_file(st))
    return Status::failure("cannot open: not a regular file");
  uint64_t size = fs::file_size(path, ec);
  if (ec)
    return Status::failure("cannot determine the size: ", ec.message());
  errno = 0;
  std::unique_ptr<std::FILE, Close> file(std::fopen(path.c_str(), "rb"));
  if (!file)
    return Status::failure("cannot open: ", errnoMessage());
  return InputFile(std::move(file), size);
}

Status InputFile::read(void *dst, uint64_t count) {
  if (count > remaining())
    return Status::failure("unexpected end of file: needed ", count,
                           " bytes at offset ", position, ", only ",
                           remaining(), " remain");
  auto *out = static_cast<unsigned char *>(dst);
  for (uint64_t done = 0; done < count;) {
    size_t want = static_cast<size_t>(std::min(count - done, kChunk));
    size_t got = std::fread(out + done, 1, want, file.get());
    if (got != want)
      return Status::failure("read error at offset ", position + done,
                             std::ferror(file.get()) ? ": " + errnoMessage()
                                                     : ": file shrank");
    done += got;
  }
  position += count;
  return Status::success();
}
