//===- OutputFile.cpp - Writing a file without harming what is there ------===//

#include "runtime/OutputFile.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace moe;

namespace {
namespace fs = std::filesystem;

std::string errnoMessage(int error = errno) {
  return std::error_code(error, std::generic_category()).message();
}

// Large transfers go in pieces so no single write sees a huge count.
constexpr uint64_t kChunk = uint64_t(1) << 30;
// What Linux allows when it resolves a path itself (ELOOP beyond).
constexpr int kMaxLinks = 40;
// Bytes of the target's name kept in the temporary's, so the temporary's
// name stays within NAME_MAX (255).
constexpr size_t kMaxNameInTemporary = 200;
// Tries at an unused temporary name before giving up.
constexpr int kTemporaryAttempts = 100;

/// The target of the link `path`.
Expected<std::string> readLink(const std::string &path) {
  std::vector<char> buffer(256);
  while (true) {
    ssize_t length = ::readlink(path.c_str(), buffer.data(), buffer.size());
    if (length < 0)
      return Status::failure("cannot read the link ", quote(path), ": ",
                             errnoMessage());
    if (static_cast<size_t>(length) < buffer.size())
      return std::string(buffer.data(), static_cast<size_t>(length));
    buffer.resize(buffer.size() * 2);
  }
}

/// The folder a new file beside `target` is created in ("" is the current
/// one) and the name of a fresh temporary file there.
std::string temporaryPathBeside(const std::string &target) {
  // Only the name has to be unlikely: O_EXCL makes taking it safe.
  thread_local std::minstd_rand engine(static_cast<unsigned>(
      std::chrono::steady_clock::now().time_since_epoch().count() ^
      (static_cast<unsigned>(::getpid()) << 16)));
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix(8, ' ');
  for (char &c : suffix)
    c = kAlphabet[engine() % (sizeof(kAlphabet) - 1)];
  fs::path path(target);
  std::string name = path.filename().string().substr(0, kMaxNameInTemporary);
  return (path.parent_path() / ("." + name + "." + suffix + ".tmp")).string();
}

/// Whether `path` is an entry of a /proc/PID/fd folder (/dev/stdout and
/// /dev/fd/N lead there): it names a file the process already has open,
/// which is written in place like a device.
bool isDescriptorLink(const std::string &path) {
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  fs::path real = fs::canonical(parent.empty() ? "." : parent, ec);
  return !ec && real.string().rfind("/proc/", 0) == 0 &&
         real.filename() == "fd";
}

/// Whether `target` (the end of the links) is written in place: a file that
/// exists and is not a regular file or a directory, or an open descriptor.
bool writtenInPlace(const std::string &target) {
  struct stat st;
  if (isDescriptorLink(target))
    return true;
  return ::stat(target.c_str(), &st) == 0 && !S_ISREG(st.st_mode) &&
         !S_ISDIR(st.st_mode);
}

/// The folder `target` is in, for messages and checks.
std::string folderOf(const std::string &target) {
  fs::path parent = fs::path(target).parent_path();
  return parent.empty() ? "." : parent.string();
}
} // namespace

Expected<std::string> moe::resolveWriteTarget(const std::string &path) {
  std::string current = path;
  for (int links = 0;; ++links) {
    struct stat st;
    // A path that cannot be examined (it does not exist, or a folder on the
    // way is missing) is the target; creating it reports why it fails.
    if (::lstat(current.c_str(), &st) != 0 || !S_ISLNK(st.st_mode) ||
        isDescriptorLink(current))
      return current;
    if (links == kMaxLinks)
      return Status::failure("more than ", kMaxLinks,
                             " levels of symbolic links");
    Expected<std::string> link = readLink(current);
    if (!link)
      return link.status();
    fs::path next(*link);
    current = next.is_absolute()
                  ? next.string()
                  : (fs::path(current).parent_path() / next).string();
  }
}

Status moe::checkOutputPath(const std::string &path) {
  Expected<std::string> target = resolveWriteTarget(path);
  if (!target)
    return target.status();
  if (writtenInPlace(*target))
    return Status::success();
  struct stat st;
  if (::stat(target->c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return Status::failure("it is a directory");
    if (::access(target->c_str(), W_OK) != 0)
      return Status::failure("cannot write: ", errnoMessage());
  }
  std::string folder = folderOf(*target);
  if (::stat(folder.c_str(), &st) != 0)
    return Status::failure("folder ", quote(folder), ": ", errnoMessage());
  if (!S_ISDIR(st.st_mode))
    return Status::failure("folder ", quote(folder), " is not a directory");
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    return Status::failure("folder ", quote(folder),
                           " is not writable: ", errnoMessage());
  return Status::success();
}

void moe::ignoreFileSizeLimitSignal() { std::signal(SIGXFSZ, SIG_IGN); }

Expected<OutputFile> OutputFile::create(const std::string &path,
                                        FileMode mode) {
  Expected<std::string> target = resolveWriteTarget(path);
  if (!target)
    return target.status().withPrefix("cannot create: ");
  if (writtenInPlace(*target)) {
    // Appending never destroys what an open descriptor's file (stdout
    // redirected with >>) already holds; devices and FIFOs ignore it.
    int fd =
        ::open(target->c_str(), O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
      return Status::failure("cannot open: ", errnoMessage());
    return OutputFile(fd, *target, "");
  }
  struct stat st;
  bool exists = ::stat(target->c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode))
    return Status::failure("cannot create: it is a directory");
  // Replacing a file the user may not write would defeat its protection.
  if (exists && ::access(target->c_str(), W_OK) != 0)
    return Status::failure("cannot open: ", errnoMessage());

  // The kernel applies the umask to a new file's permissions; a replaced
  // file's own are set below, exactly.
  mode_t permissions = exists                         ? 0600
                       : mode == FileMode::Executable ? 0777
                                                      : 0666;
  for (int attempt = 0; attempt < kTemporaryAttempts; ++attempt) {
    std::string temporary = temporaryPathBeside(*target);
    int fd = ::open(temporary.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    permissions);
    if (fd < 0 && errno == EEXIST)
      continue;
    if (fd < 0)
      return Status::failure("cannot create: ", errnoMessage());
    OutputFile file(fd, *target, std::move(temporary));
    if (exists) {
      if (::fchmod(fd, st.st_mode & 07777) != 0)
        return Status::failure("cannot set the permissions: ", errnoMessage());
      // Best effort: only root may give a file away.
      if (st.st_uid != ::geteuid() || st.st_gid != ::getegid())
        (void)!::fchown(fd, st.st_uid, st.st_gid);
    }
    return file;
  }
  return Status::failure("cannot create a temporary file in ",
                         quote(folderOf(*target)),
                         ": every name tried is taken");
}

OutputFile::OutputFile(OutputFile &&other) noexcept
    : fd(std::exchange(other.fd, -1)), target(std::move(other.target)),
      temporary(std::move(other.temporary)) {
  other.temporary.clear();
}

OutputFile::~OutputFile() { discard(); }

void OutputFile::discard() {
  if (fd >= 0)
    ::close(std::exchange(fd, -1));
  // Only the temporary: the target is not ours to remove.
  if (!temporary.empty())
    ::unlink(temporary.c_str());
  temporary.clear();
}

Status OutputFile::write(const void *src, uint64_t count) {
  assert(fd >= 0 && "write after close");
  const auto *in = static_cast<const unsigned char *>(src);
  for (uint64_t done = 0; done < count;) {
    size_t want = static_cast<size_t>(std::min(count - done, kChunk));
    ssize_t wrote = ::write(fd, in + done, want);
    if (wrote < 0 && errno == EINTR)
      continue;
    if (wrote < 0)
      return Status::failure("write error: ", errnoMessage());
    if (wrote == 0)
      return Status::failure("write error: no progress");
    done += static_cast<uint64_t>(wrote);
  }
  return Status::success();
}

Status OutputFile::close() {
  assert(fd >= 0 && "close after close");
  // Write errors of network file systems may surface only here.
  if (::close(std::exchange(fd, -1)) != 0) {
    std::string error = errnoMessage();
    discard();
    return Status::failure("write error: ", error);
  }
  if (temporary.empty())
    return Status::success();
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    std::string error = errnoMessage();
    discard();
    return Status::failure("cannot replace the file: ", error);
  }
  temporary.clear();
  return Status::success();
}
