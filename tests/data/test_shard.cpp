#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "cairn/data/error.h"
#include "cairn/data/file_util.h"
#include "cairn/data/token_shard.h"
#include "test_util.h"

namespace cairn::data {
namespace {

std::vector<uint8_t> file_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

int32_t le32(const std::vector<uint8_t>& b, size_t off) {
  int32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

TEST(TokenShard, WriterProducesTheLlmcLayout) {
  testing::TempDir dir;
  TokenShardWriter w(dir / "a.bin", TokenDtype::U16);
  std::vector<uint32_t> first = {50256, 1, 2};
  std::vector<int32_t> second = {65535, 0};
  w.append(first);
  w.append(second);
  EXPECT_EQ(w.size(), 5u);
  EXPECT_FALSE(std::filesystem::exists(dir / "a.bin"));  // nothing visible before close()
  w.close();
  std::vector<uint8_t> b = file_bytes(dir / "a.bin");
  ASSERT_EQ(b.size(), 1024u + 10u);
  EXPECT_EQ(le32(b, 0), 20240520);
  EXPECT_EQ(le32(b, 4), 1);
  EXPECT_EQ(le32(b, 8), 5);
  for (size_t i = 12; i < 1024; ++i) ASSERT_EQ(b[i], 0) << i;
  EXPECT_EQ(b[1024], 50256 & 0xFF);
  EXPECT_EQ(b[1025], 50256 >> 8);
  std::vector<std::filesystem::path> left;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) left.push_back(e.path());
  EXPECT_EQ(left.size(), 1u);  // no temporary file left behind
}

TEST(TokenShard, ReadsWindowsFromMappedShards) {
  testing::TempDir dir;
  for (TokenDtype dtype : {TokenDtype::U16, TokenDtype::U32}) {
    TokenShardWriter w(dir / "s.bin", dtype);
    std::vector<uint32_t> toks;
    for (uint32_t i = 0; i < 1000; ++i) toks.push_back(dtype == TokenDtype::U16 ? i * 61 % 65536 : i * 100003u);
    w.append(std::span<const uint32_t>(toks.data(), 400));
    w.append(std::span<const uint32_t>(toks.data() + 400, 600));
    w.close();
    TokenShard s = TokenShard::open(dir / "s.bin");
    EXPECT_EQ(s.dtype(), dtype);
    ASSERT_EQ(s.size(), 1000u);
    EXPECT_EQ(s[999], toks[999]);
    EXPECT_EQ(s.at(5), toks[5]);
    EXPECT_THROW(s.at(1000), std::out_of_range);
    std::vector<int32_t> win = s.window(10, 4);
    EXPECT_EQ(win, (std::vector<int32_t>{int32_t(toks[10]), int32_t(toks[11]), int32_t(toks[12]), int32_t(toks[13]),
                                         int32_t(toks[14])}));
    EXPECT_EQ(s.num_windows(4), 996u);
    EXPECT_THROW(s.window(996, 4), std::out_of_range);
    std::mt19937_64 rng(3);
    Array<int32_t> batch = s.sample_windows(rng, 4, 8);
    EXPECT_EQ(batch.shape, (std::vector<int64_t>{4, 9}));
    for (int b = 0; b < 4; ++b) {
      // Each row is a contiguous run of the corpus: find where it starts and compare.
      int32_t first = batch.data[size_t(b) * 9];
      size_t start = 0;
      while (start < 1000 && int32_t(toks[start]) != first) ++start;
      ASSERT_LT(start, 992u);
      for (int t = 0; t < 9; ++t) EXPECT_EQ(batch.data[size_t(b) * 9 + size_t(t)], int32_t(toks[start + size_t(t)]));
    }
    EXPECT_THROW(s.sample_windows(rng, 1, 1000), DataError);
  }
}

TEST(TokenShard, HeaderlessRawFiles) {
  testing::TempDir dir;
  TokenShardWriter w(dir / "raw.bin", TokenDtype::U32, /*header=*/false);
  std::vector<uint32_t> toks = {7, 70000, 4000000000u};
  w.append(toks);
  w.close();
  EXPECT_EQ(std::filesystem::file_size(dir / "raw.bin"), 12u);
  TokenShard s = TokenShard::open_raw(dir / "raw.bin", TokenDtype::U32);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s[2], 4000000000u);
  TokenShard h = TokenShard::open_raw(dir / "raw.bin", TokenDtype::U16);
  EXPECT_EQ(h.size(), 6u);
  std::vector<uint8_t> odd = {1, 2, 3};
  EXPECT_THROW(TokenShard::from_memory_raw(odd, TokenDtype::U16), DataError);
  EXPECT_THROW(TokenShard::open(dir / "raw.bin"), DataError);  // too short for a header
}

TEST(TokenShard, WriterRejectsTokensThatDoNotFitAndCleansUp) {
  testing::TempDir dir;
  {
    TokenShardWriter w(dir / "x.bin", TokenDtype::U16);
    std::vector<uint32_t> toks = {1, 65536};
    EXPECT_THROW(w.append(toks), std::invalid_argument);
    std::vector<int32_t> neg = {-1};
    EXPECT_THROW(w.append(neg), std::invalid_argument);
  }  // destroyed without close()
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(TokenShard, HostileHeadersAndTruncation) {
  testing::TempDir dir;
  TokenShardWriter w(dir / "t.bin", TokenDtype::U16);
  std::vector<uint32_t> toks = {1, 2, 3, 4};
  w.append(toks);
  w.close();
  std::vector<uint8_t> good = file_bytes(dir / "t.bin");
  EXPECT_EQ(TokenShard::from_memory(good).size(), 4u);
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> prefix(good.begin(), good.begin() + long(n));
    EXPECT_THROW(TokenShard::from_memory(prefix, "t.bin"), DataError) << n;
  }
  std::vector<uint8_t> extra = good;
  extra.push_back(0);
  try {
    TokenShard::from_memory(extra, "t.bin");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("1032 bytes with the header), the file has 1033 bytes (trailing bytes)"),
              std::string::npos)
        << e.what();
  }
  std::vector<uint8_t> magic = good;
  magic[0] ^= 1;
  EXPECT_THROW(TokenShard::from_memory(magic), DataError);
  std::vector<uint8_t> version = good;
  version[4] = 7;  // uint32 version with the uint16 magic
  EXPECT_THROW(TokenShard::from_memory(version), DataError);
  std::vector<uint8_t> negative = good;
  negative[11] = 0x80;
  EXPECT_THROW(TokenShard::from_memory(negative), DataError);
  std::vector<uint8_t> huge = good;
  huge[10] = 0x7F;  // claims ~8 million tokens
  EXPECT_THROW(TokenShard::from_memory(huge), DataError);
}

// Access::Pread reads the same tokens as the mapping, through read(), operator[], windows and raw files.
TEST(TokenShard, PreadAccessMatchesTheMapping) {
  testing::TempDir dir;
  for (TokenDtype dtype : {TokenDtype::U16, TokenDtype::U32}) {
    for (bool header : {true, false}) {
      TokenShardWriter w(dir / "p.bin", dtype, header);
      std::vector<uint32_t> toks;
      for (uint32_t i = 0; i < 20000; ++i) toks.push_back(dtype == TokenDtype::U16 ? i * 61 % 65536 : i * 100003u);
      w.append(toks);
      w.close();
      TokenShard m = header ? TokenShard::open(dir / "p.bin") : TokenShard::open_raw(dir / "p.bin", dtype);
      TokenShard p = header ? TokenShard::open(dir / "p.bin", MappedFile::Access::Pread)
                            : TokenShard::open_raw(dir / "p.bin", dtype, MappedFile::Access::Pread);
      ASSERT_EQ(p.size(), m.size());
      EXPECT_EQ(p.dtype(), dtype);
      EXPECT_TRUE(m.mapped());
      EXPECT_FALSE(p.mapped());
      EXPECT_EQ(p[19999], toks[19999]);
      EXPECT_THROW(p.at(20000), std::out_of_range);
      std::vector<int32_t> a(20000), b(20000);  // longer than one pread chunk
      m.read(0, a);
      p.read(0, b);
      EXPECT_EQ(a, b);
      EXPECT_EQ(p.window(12345, 7), m.window(12345, 7));
      std::mt19937_64 r1(5), r2(5);
      EXPECT_EQ(p.sample_windows(r1, 3, 100).data, m.sample_windows(r2, 3, 100).data);
      EXPECT_THROW(p.read(19990, std::span<int32_t>(b.data(), 11)), std::out_of_range);
    }
  }
  std::vector<uint8_t> bytes = file_bytes(dir / "p.bin");
  bytes.resize(1030);  // header promises more than the file holds
  write_file_atomic(dir / "short.bin", bytes);
  EXPECT_THROW(TokenShard::open(dir / "short.bin", MappedFile::Access::Pread), DataError);
}

// Under an address-space limit smaller than the file (ulimit -v), open() cannot map it and reads with pread.
// Skipped under sanitizers, whose allocators need address space of their own.
TEST(TokenShard, FallsBackToPreadWhenTheFileCannotBeMapped) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer build";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
  GTEST_SKIP() << "sanitizer build";
#endif
#endif
  testing::TempDir dir;
  constexpr uint32_t n = 32u << 20;  // 64 MiB of uint16 tokens
  {
    TokenShardWriter w(dir / "big.bin", TokenDtype::U16);
    std::vector<uint32_t> chunk(1 << 20);
    for (uint32_t c = 0; c < n / chunk.size(); ++c) {
      for (uint32_t i = 0; i < chunk.size(); ++i) chunk[i] = (c * 7 + i) & 0xFFFF;
      w.append(chunk);
    }
    w.close();
  }
  std::vector<int32_t> window(1025);
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &old), 0);
  long pages = 0;
  {
    std::ifstream statm("/proc/self/statm");
    statm >> pages;
  }
  rlimit tight = old;
  tight.rlim_cur = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + (16u << 20);  // 16 MiB above what is in use
  if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < tight.rlim_cur) GTEST_SKIP() << "already under a tighter limit";
  ASSERT_EQ(setrlimit(RLIMIT_AS, &tight), 0);
  bool mapped_failed = false;
  uint32_t last = 0;
  bool fell_back = false;
  try {
    MappedFile probe(dir / "big.bin");
  } catch (const DataError& e) {
    mapped_failed = std::string(e.what()).find("ulimit -v") != std::string::npos;
  }
  try {
    TokenShard s = TokenShard::open(dir / "big.bin");
    fell_back = !s.mapped();
    s.read(n - 1025, window);
    last = s[n - 1];
  } catch (...) {
    setrlimit(RLIMIT_AS, &old);
    throw;
  }
  ASSERT_EQ(setrlimit(RLIMIT_AS, &old), 0);
  EXPECT_TRUE(mapped_failed) << "the plain mapping should be refused under the limit";
  EXPECT_TRUE(fell_back);
  const uint32_t c = (n - 1) >> 20, i = (n - 1) & ((1u << 20) - 1);
  EXPECT_EQ(last, (c * 7 + i) & 0xFFFF);
  EXPECT_EQ(uint32_t(window[1024]), last);
}

}  // namespace
}  // namespace cairn::data
