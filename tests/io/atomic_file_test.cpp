#include "cairn/io/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdlib>

#include "test_util.h"

namespace cairn::io {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ScratchDir;

TEST(ReadFile, ReturnsBinaryContentsExactly) {
  ScratchDir dir;
  const std::string bytes("a\0b\xff\n\r", 6);
  write_file_atomic(dir.file("x.bin"), bytes);
  EXPECT_EQ(read_file(dir.file("x.bin")), bytes);
}

TEST(ReadFile, EmptyFile) {
  ScratchDir dir;
  write_file_atomic(dir.file("empty"), "");
  EXPECT_EQ(read_file(dir.file("empty")), "");
}

TEST(ReadFile, MissingFileNamesPathAndReason) {
  ScratchDir dir;
  try {
    read_file(dir.file("missing.txt"));
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir.file("missing.txt")));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
}

TEST(ReadFile, DirectoryIsRefused) {
  ScratchDir dir;
  EXPECT_THROW(
      {
        try {
          read_file(dir.path());
        } catch (const IoError& e) {
          EXPECT_THAT(e.what(), HasSubstr("is a directory"));
          throw;
        }
      },
      IoError);
}

TEST(WriteFileAtomic, CreatesAndReplaces) {
  ScratchDir dir;
  const auto path = dir.file("model.bin");
  write_file_atomic(path, "old contents");
  EXPECT_EQ(read_file(path), "old contents");
  write_file_atomic(path, "new");
  EXPECT_EQ(read_file(path), "new");
  EXPECT_THAT(dir.entries(), ElementsAre("model.bin"));
}

TEST(WriteFileAtomic, RelativePathInCurrentDirectory) {
  ScratchDir dir;
  const auto old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  write_file_atomic("plain_name.txt", "x");
  std::filesystem::current_path(old_cwd);
  EXPECT_EQ(read_file(dir.file("plain_name.txt")), "x");
  EXPECT_THAT(dir.entries(), ElementsAre("plain_name.txt"));
}

TEST(WriteFileAtomic, MissingDirectoryThrowsWithPathAndReason) {
  ScratchDir dir;
  const auto path = dir.file("no/such/dir/file.bin");
  try {
    write_file_atomic(path, "x");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(WriteFileAtomic, PathNamingADirectoryIsRefused) {
  ScratchDir dir;
  EXPECT_THROW(write_file_atomic(dir.path() + "/", "x"), IoError);
  std::filesystem::create_directory(dir.file("sub"));
  // rename() cannot replace a directory with a file; the temp file must not be left behind.
  EXPECT_THROW(write_file_atomic(dir.file("sub"), "x"), IoError);
  EXPECT_THAT(dir.entries(), ElementsAre("sub"));
}

TEST(WriteFileAtomic, NewFileModeFollowsUmask) {
  ScratchDir dir;
  const mode_t old = ::umask(027);
  write_file_atomic(dir.file("f"), "x");
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(AtomicFile, StreamsSmallAndLargeChunksInOrder) {
  ScratchDir dir;
  const auto path = dir.file("stream.bin");
  std::string expected;
  {
    AtomicFile f(path);
    for (int i = 0; i < 1000; ++i) {  // small writes go through the buffer
      const std::string chunk = std::to_string(i) + ",";
      f.write(chunk);
      expected += chunk;
    }
    const std::string big(300000, 'z');  // larger than the buffer: written directly
    f.write(big);
    expected += big;
    f.write(testing::as_bytes("tail"));
    expected += "tail";
    EXPECT_EQ(f.bytes_written(), expected.size());
    EXPECT_FALSE(f.committed());
    f.commit();
    EXPECT_TRUE(f.committed());
  }
  EXPECT_EQ(read_file(path), expected);
  EXPECT_THAT(dir.entries(), ElementsAre("stream.bin"));
}

TEST(AtomicFile, TargetUntouchedUntilCommit) {
  ScratchDir dir;
  const auto path = dir.file("t");
  write_file_atomic(path, "old");
  AtomicFile f(path);
  f.write("new contents");
  EXPECT_EQ(read_file(path), "old");
  EXPECT_EQ(dir.entries().size(), 2u);  // target + temporary
  f.commit();
  EXPECT_EQ(read_file(path), "new contents");
  EXPECT_THAT(dir.entries(), ElementsAre("t"));
}

TEST(AtomicFile, DestructorWithoutCommitKeepsOldFileAndRemovesTemp) {
  ScratchDir dir;
  const auto path = dir.file("model.safetensors");
  write_file_atomic(path, "old weights");
  try {
    AtomicFile f(path);
    f.write(std::string(200000, 'n'));  // some of it already on disk in the temp file
    throw std::runtime_error("writer failed half-way");
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "writer failed half-way");
  }
  EXPECT_EQ(read_file(path), "old weights");
  EXPECT_THAT(dir.entries(), ElementsAre("model.safetensors"));
}

TEST(AtomicFile, AbortDiscards) {
  ScratchDir dir;
  AtomicFile f(dir.file("a"));
  f.write("x");
  f.abort();
  EXPECT_TRUE(dir.entries().empty());
  EXPECT_THROW(f.write("y"), std::logic_error);
  EXPECT_THROW(f.commit(), std::logic_error);
}

TEST(AtomicFile, UseAfterCommitIsALogicError) {
  ScratchDir dir;
  AtomicFile f(dir.file("a"));
  f.commit();
  EXPECT_THROW(f.write("y"), std::logic_error);
  EXPECT_THROW(f.commit(), std::logic_error);
  EXPECT_EQ(read_file(dir.file("a")), "");
}

TEST(AtomicFile, MoveTransfersOwnership) {
  ScratchDir dir;
  AtomicFile a(dir.file("moved"));
  a.write("abc");
  AtomicFile b(std::move(a));
  b.write("def");
  b.commit();
  EXPECT_EQ(read_file(dir.file("moved")), "abcdef");
  AtomicFile c(dir.file("other"));
  c.write("lost");
  c = AtomicFile(dir.file("third"));  // assigning over an uncommitted file discards it
  c.commit();
  EXPECT_THAT(dir.entries(), ElementsAre("moved", "third"));
}

TEST(AtomicFile, TwoWritersOfOneTargetUseDistinctTempFiles) {
  ScratchDir dir;
  AtomicFile a(dir.file("t"));
  AtomicFile b(dir.file("t"));
  EXPECT_NE(a.temp_path(), b.temp_path());
  a.write("first");
  b.write("second");
  a.commit();
  b.commit();  // last commit wins, whole
  EXPECT_EQ(read_file(dir.file("t")), "second");
  EXPECT_THAT(dir.entries(), ElementsAre("t"));
}

// A real write error in the middle of a file: a file size limit makes write() fail with EFBIG
// after 64 KiB. Runs in a child process (EXPECT_EXIT) so the limit does not leak into other tests.
[[noreturn]] void write_beyond_size_limit(const ScratchDir& dir, const std::string& path) {
  ::signal(SIGXFSZ, SIG_IGN);
  const rlimit limit{1 << 16, 1 << 16};
  ::setrlimit(RLIMIT_FSIZE, &limit);
  try {
    write_file_atomic(path, std::string(1 << 20, 'x'));
  } catch (const IoError& e) {
    const std::string msg = e.what();
    const bool ok = msg.find(path) != std::string::npos && msg.find("File too large") != std::string::npos &&
                    read_file(path) == "old" && dir.entries().size() == 1;
    std::_Exit(ok ? 0 : 2);
  }
  std::_Exit(1);
}

TEST(AtomicFile, WriteErrorMidwayKeepsOldFileAndRemovesTemp) {
  ScratchDir dir;
  const auto path = dir.file("big.bin");
  write_file_atomic(path, "old");
  EXPECT_EXIT(write_beyond_size_limit(dir, path), ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(read_file(path), "old");
  EXPECT_THAT(dir.entries(), ElementsAre("big.bin"));
}

}  // namespace
}  // namespace cairn::io
