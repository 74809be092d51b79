//===- OutputFileTest.cpp - Writing files without harming existing ones ---===//

#include "runtime/OutputFile.h"

#include "TestFiles.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <thread>

using namespace moe;
using namespace moe::test;
namespace fs = std::filesystem;

namespace {

/// Lowers this process's file-size limit (`ulimit -f`) while alive, so that
/// writes to regular files past `bytes` fail with EFBIG.
class FileSizeLimit {
public:
  explicit FileSizeLimit(rlim_t bytes) {
    ignoreFileSizeLimitSignal();
    ::getrlimit(RLIMIT_FSIZE, &saved);
    struct rlimit lowered = saved;
    lowered.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &lowered), 0);
  }
  ~FileSizeLimit() { ::setrlimit(RLIMIT_FSIZE, &saved); }

private:
  struct rlimit saved;
};

/// Sets the umask while alive.
class Umask {
public:
  explicit Umask(mode_t mask) : saved(::umask(mask)) {}
  ~Umask() { ::umask(saved); }

private:
  mode_t saved;
};

mode_t permissionsOf(const std::string &path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool isSymlink(const std::string &path) {
  return fs::is_symlink(fs::symlink_status(path));
}

class OutputFileTest : public TempDirTest {
protected:
  /// Creates `file`, writes `bytes` and closes it.
  Status writeFile(const std::string &file, const std::string &bytes,
                   FileMode mode = FileMode::Regular) {
    Expected<OutputFile> out = OutputFile::create(file, mode);
    if (!out)
      return out.status();
    if (Status s = out->write(bytes.data(), bytes.size()); !s.ok())
      return s;
    return out->close();
  }

  /// The names in the test's directory.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const fs::directory_entry &entry : fs::directory_iterator(dir))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

TEST_F(OutputFileTest, ReplacesAnExistingFileOnlyWhenClosed) {
  writeBytes(path("y.npy"), "old");
  Expected<OutputFile> out = OutputFile::create(path("y.npy"));
  ASSERT_TRUE(out.ok()) << out.message();
  ASSERT_TRUE(out->write("new bytes", 9).ok());
  EXPECT_EQ(readBytes(path("y.npy")), "old");
  ASSERT_TRUE(out->close().ok());
  EXPECT_EQ(readBytes(path("y.npy")), "new bytes");
  EXPECT_EQ(entries(), std::vector<std::string>{"y.npy"});
}

TEST_F(OutputFileTest, FailedWriteKeepsTheExistingFile) {
  writeBytes(path("y.npy"), "the previous result");
  {
    FileSizeLimit limit(16);
    Status s = writeFile(path("y.npy"), std::string(64, 'x'));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.message(), "write error: File too large");
  }
  EXPECT_EQ(readBytes(path("y.npy")), "the previous result");
  EXPECT_EQ(entries(), std::vector<std::string>{"y.npy"});
}

TEST_F(OutputFileTest, FailedWriteLeavesNothingBehind) {
  {
    FileSizeLimit limit(16);
    EXPECT_FALSE(writeFile(path("y.npy"), std::string(64, 'x')).ok());
  }
  EXPECT_TRUE(entries().empty());
}

TEST_F(OutputFileTest, AbandonedFileLeavesTheTargetAlone) {
  writeBytes(path("kept.npy"), "kept");
  {
    Expected<OutputFile> fresh = OutputFile::create(path("new.npy"));
    Expected<OutputFile> replacing = OutputFile::create(path("kept.npy"));
    ASSERT_TRUE(fresh.ok() && replacing.ok());
    ASSERT_TRUE(fresh->write("abc", 3).ok());
    ASSERT_TRUE(replacing->write("abc", 3).ok());
  }
  EXPECT_EQ(entries(), std::vector<std::string>{"kept.npy"});
  EXPECT_EQ(readBytes(path("kept.npy")), "kept");
}

TEST_F(OutputFileTest, WritesThroughSymlinksAndKeepsThem) {
  // link -> chain -> sub/target.npy, relative and dangling at first.
  fs::create_directory(path("sub"));
  fs::create_symlink("sub/target.npy", path("chain"));
  fs::create_symlink("chain", path("link"));
  Expected<std::string> target = resolveWriteTarget(path("link"));
  ASSERT_TRUE(target.ok()) << target.message();
  EXPECT_TRUE(fs::equivalent(fs::path(*target).parent_path(), path("sub")));
  EXPECT_EQ(fs::path(*target).filename(), "target.npy");

  ASSERT_TRUE(writeFile(path("link"), "first").ok());
  ASSERT_TRUE(writeFile(path("link"), "second").ok());
  EXPECT_TRUE(isSymlink(path("link")));
  EXPECT_TRUE(isSymlink(path("chain")));
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path("sub/target.npy"))));
  EXPECT_EQ(readBytes(path("sub/target.npy")), "second");
  EXPECT_EQ(entries(), (std::vector<std::string>{"chain", "link", "sub"}));
}

TEST_F(OutputFileTest, SymlinkKeptWhenTheWriteFails) {
  writeBytes(path("target.npy"), "kept");
  fs::create_symlink("target.npy", path("link"));
  {
    FileSizeLimit limit(2);
    EXPECT_FALSE(writeFile(path("link"), "too long").ok());
  }
  EXPECT_TRUE(isSymlink(path("link")));
  EXPECT_EQ(readBytes(path("target.npy")), "kept");
  EXPECT_EQ(entries(), (std::vector<std::string>{"link", "target.npy"}));
}

TEST_F(OutputFileTest, SymlinkLoopIsAnError) {
  fs::create_symlink("b", path("a"));
  fs::create_symlink("a", path("b"));
  Status s = writeFile(path("a"), "x");
  EXPECT_EQ(s.message(),
            "cannot create: more than 40 levels of symbolic links");
  EXPECT_TRUE(isSymlink(path("a")) && isSymlink(path("b")));
}

TEST_F(OutputFileTest, FifoIsWrittenInPlace) {
  ASSERT_EQ(::mkfifo(path("pipe").c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] { received = readBytes(path("pipe")); });
  Status s = writeFile(path("pipe"), "through the pipe");
  reader.join();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(received, "through the pipe");
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(path("pipe"))));
  EXPECT_EQ(entries(), std::vector<std::string>{"pipe"});
}

TEST_F(OutputFileTest, OpenDescriptorsAreWrittenInPlace) {
  // /dev/stdout is /proc/self/fd/1: a pipe there, or a file redirected
  // with >>, is written through, never replaced.
  int pipeFds[2];
  ASSERT_EQ(::pipe(pipeFds), 0);
  std::string pipePath = "/dev/fd/" + std::to_string(pipeFds[1]);
  EXPECT_TRUE(checkOutputPath(pipePath).ok());
  Status s = writeFile(pipePath, "piped");
  ::close(pipeFds[1]);
  char buffer[16] = {};
  EXPECT_EQ(::read(pipeFds[0], buffer, sizeof(buffer)), 5);
  ::close(pipeFds[0]);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(std::string(buffer), "piped");

  writeBytes(path("log"), "first\n");
  int fd = ::open(path("log").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  struct stat before;
  ASSERT_EQ(::stat(path("log").c_str(), &before), 0);
  s = writeFile("/proc/self/fd/" + std::to_string(fd), "second");
  ::close(fd);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(readBytes(path("log")), "first\nsecond");
  struct stat after;
  ASSERT_EQ(::stat(path("log").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(entries(), std::vector<std::string>{"log"});
}

TEST_F(OutputFileTest, DeviceWriteErrorIsReportedAndTheNodeKept) {
  // A private node like /dev/full where this may create one (root), so a
  // regression cannot remove the system's; /dev/full itself otherwise (then
  // a regression cannot remove it either).
  std::string device = path("full");
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 7)) != 0)
    device = "/dev/full";
  if (!fs::is_character_file(device))
    GTEST_SKIP() << "no /dev/full";
  Status s = writeFile(device, "x");
  EXPECT_EQ(s.message(), "write error: No space left on device");
  EXPECT_TRUE(fs::is_character_file(fs::symlink_status(device)));
  // /dev/null is written in place too, and stays.
  EXPECT_TRUE(writeFile("/dev/null", "x").ok());
  EXPECT_TRUE(fs::is_character_file(fs::symlink_status("/dev/null")));
}

TEST_F(OutputFileTest, DirectoryIsNotReplaced) {
  fs::create_directory(path("d"));
  EXPECT_EQ(writeFile(path("d"), "x").message(),
            "cannot create: it is a directory");
  EXPECT_TRUE(fs::is_directory(path("d")));
}

TEST_F(OutputFileTest, PermissionsAreThoseOfAPlainCreate) {
  Umask mask(027);
  ASSERT_TRUE(writeFile(path("data.npy"), "x").ok());
  EXPECT_EQ(permissionsOf(path("data.npy")), 0640u);
  ASSERT_TRUE(writeFile(path("model.so"), "x", FileMode::Executable).ok());
  EXPECT_EQ(permissionsOf(path("model.so")), 0750u);
  // A replaced file keeps its own permissions.
  fs::permissions(path("data.npy"), fs::perms(0604));
  ASSERT_TRUE(writeFile(path("data.npy"), "y").ok());
  EXPECT_EQ(permissionsOf(path("data.npy")), 0604u);
  EXPECT_EQ(readBytes(path("data.npy")), "y");
}

TEST_F(OutputFileTest, ReadOnlyFileIsNotReplaced) {
  if (::geteuid() == 0)
    GTEST_SKIP() << "root may write any file";
  writeBytes(path("ro.npy"), "kept");
  fs::permissions(path("ro.npy"), fs::perms(0444));
  EXPECT_EQ(writeFile(path("ro.npy"), "x").message(),
            "cannot open: Permission denied");
  EXPECT_EQ(readBytes(path("ro.npy")), "kept");
}

TEST_F(OutputFileTest, CheckOutputPath) {
  EXPECT_TRUE(checkOutputPath(path("new.npy")).ok());
  EXPECT_EQ(checkOutputPath(path("missing/y.npy")).message(),
            "folder " + quote(path("missing")) + ": No such file or directory");
  writeBytes(path("file"), "");
  EXPECT_EQ(checkOutputPath(path("file/y.npy")).message(),
            "folder " + quote(path("file")) + " is not a directory");
  EXPECT_EQ(checkOutputPath(dir.string()).message(), "it is a directory");
  EXPECT_TRUE(checkOutputPath("/dev/null").ok());
  // A dangling link is checked where it points.
  fs::create_symlink("missing/y.npy", path("link"));
  EXPECT_EQ(checkOutputPath(path("link")).message(),
            "folder " + quote(path("missing")) + ": No such file or directory");
  if (::geteuid() != 0) {
    fs::create_directory(path("ro"));
    fs::permissions(path("ro"), fs::perms(0555));
    EXPECT_EQ(checkOutputPath(path("ro/y.npy")).message(),
              "folder " + quote(path("ro")) +
                  " is not writable: Permission denied");
    fs::permissions(path("ro"), fs::perms(0755));
  }
}

} // namespace
