//===- ScratchDirectory.h - Files for the fuzz targets' inputs --*- C++ -*-===//
//
// The .npy and .safetensors readers and writers take paths (moe-run reads and
// writes through runtime/BinaryFile.h and runtime/OutputFile.h), so the fuzz
// targets hand them real files: in a private directory made for the process,
// so parallel campaigns (-jobs, -fork) do not collide, removed when the
// process exits normally. It is made in /dev/shm (memory) where there is one,
// even when TMPDIR is set (lit sets it for every test): the writers replace
// files by rename, which on a disk file system such as ext4 flushes the data
// each time, 30x slower than the fuzzing itself.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TEST_FUZZ_SCRATCHDIRECTORY_H
#define MOE_TEST_FUZZ_SCRATCHDIRECTORY_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace moe::fuzz {

class ScratchDirectory {
public:
  ScratchDirectory() {
    std::string pattern = (base() / "moe-fuzz-XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    root = pattern;
  }
  ScratchDirectory(const ScratchDirectory &) = delete;
  ScratchDirectory &operator=(const ScratchDirectory &) = delete;
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }

  /// The path of `name` in the directory.
  std::string path(const char *name) const { return (root / name).string(); }

  /// Writes `size` bytes from `data` to the file `name`; returns its path.
  std::string write(const char *name, const uint8_t *data, size_t size) const {
    std::string file = path(name);
    std::FILE *f = std::fopen(file.c_str(), "wb");
    if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
      std::perror(file.c_str());
      std::abort();
    }
    return file;
  }

private:
  static std::filesystem::path base() {
    std::error_code ec;
    if (std::filesystem::is_directory("/dev/shm", ec))
      return "/dev/shm";
    return std::filesystem::temp_directory_path();
  }

  std::filesystem::path root;
};

} // namespace moe::fuzz

#endif // MOE_TEST_FUZZ_SCRATCHDIRECTORY_H
