//===- OutputFile.h - Writing a file without harming what is there -*- C++
//-*-===//
//
// Every tool writes its files through OutputFile, which never removes or
// replaces a file on an error path:
//
// - a regular file (or one that does not exist yet) is written to a temporary
//   file created exclusively beside it, which is renamed over it only when
//   every byte was written; on failure only the temporary is removed, so an
//   existing file is left exactly as it was;
// - an existing file that is not a regular file (a character device such as
//   /dev/null or /dev/full, a FIFO), or a file the process has open
//   (/dev/stdout, /dev/fd/N), is written in place, appending, and never
//   unlinked;
// - a symbolic link is followed to the end of its chain, even when that end
//   does not exist yet, and the file there is written: the link stays.
//
// A new file gets the permissions a plain create would give it (0666, or
// 0777 for executables, less the umask); a replaced file keeps its own.
// Messages do not name the file; callers prefix it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_OUTPUTFILE_H
#define MOE_RUNTIME_OUTPUTFILE_H

#include "runtime/Status.h"

#include <cstdint>
#include <string>

namespace moe {

/// The permissions a new file is created with, before the umask.
enum class FileMode {
  Regular,    // 0666
  Executable, // 0777: shared objects
};

/// The file a write to `path` lands in: `path` itself unless it is a
/// symbolic link, else the end of the chain of links (relative targets taken
/// from each link's folder), which need not exist; the chain stops at an
/// open descriptor's link (/proc/self/fd/1 for /dev/stdout). Fails only for
/// a chain longer than 40 links (a loop).
Expected<std::string> resolveWriteTarget(const std::string &path);

/// Whether OutputFile::create(path) can be expected to succeed: the target
/// is an existing file that is not a directory, or its folder is an existing
/// writable directory. Lets a tool refuse a bad output path before long work.
Status checkOutputPath(const std::string &path);

/// Makes a write past the file-size limit (`ulimit -f`) fail with EFBIG,
/// which is reported and cleaned up after, instead of killing the process
/// with SIGXFSZ and leaving a temporary file behind. Tools call it at
/// start-up, after anything that installs signal handlers (LLVM's InitLLVM).
void ignoreFileSizeLimitSignal();

/// A file being written. Call close() and check its Status: that is where
/// the file takes the place of the target. A file that is destroyed without
/// a successful close() leaves the target as it was.
class OutputFile {
public:
  static Expected<OutputFile> create(const std::string &path,
                                     FileMode mode = FileMode::Regular);

  OutputFile(OutputFile &&other) noexcept;
  OutputFile &operator=(OutputFile &&) = delete;
  ~OutputFile();

  Status write(const void *src, uint64_t count);
  Status close();

private:
  OutputFile(int fd, std::string target, std::string temporary)
      : fd(fd), target(std::move(target)), temporary(std::move(temporary)) {}
  /// Closes the descriptor and removes the temporary, if any.
  void discard();

  int fd;
  /// The file that receives the data (the end of any chain of links).
  std::string target;
  /// The file written until close() renames it to `target`; empty when the
  /// target is written in place.
  std::string temporary;
};

} // namespace moe

#endif // MOE_RUNTIME_OUTPUTFILE_H
