// Language-model windows: the nanoGPT split, window contents, determinism, shards, and the errors for corpora
// too small for the context.
#include <gtest/gtest.h>

#include <numeric>

#include "cairn/data/error.h"
#include "cairn/data/lm_data.h"
#include "test_util.h"

namespace cairn::data {
namespace {

std::vector<int32_t> iota_tokens(int32_t n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(LmData, SplitIsFirstNinetyLastTenPercentAsNanoGpt) {
  auto [tr, va] = split_train_val(TokenStream::from_tokens(iota_tokens(1003), "c"), 0.1);
  EXPECT_EQ(tr.size(), 902u);  // int(0.9 * 1003)
  EXPECT_EQ(va.size(), 101u);
  int32_t first;
  va.read(0, std::span<int32_t>(&first, 1));
  EXPECT_EQ(first, 902);
  EXPECT_THROW(split_train_val(tr, 0.0), DataError);
  EXPECT_THROW(split_train_val(tr, 1.0), DataError);
}

TEST(LmData, TargetsAreInputsShiftedByOneAndWindowsAreContiguous) {
  LmBatcher b(TokenStream::from_tokens(iota_tokens(100)), 8);
  EXPECT_EQ(b.num_windows(), 92u);
  Generator g(3);
  LmBatch batch = b.sample(g, 5);
  ASSERT_EQ(batch.inputs.shape(), Shape({5, 8}));
  ASSERT_EQ(batch.targets.shape(), Shape({5, 8}));
  auto x = batch.inputs.to_vector<int64_t>(), y = batch.targets.to_vector<int64_t>();
  for (int r = 0; r < 5; ++r) {
    EXPECT_LE(x[r * 8 + 7] + 1, 99);  // the last target is inside the stream
    for (int t = 0; t < 8; ++t) {
      EXPECT_EQ(x[r * 8 + t], x[r * 8] + t);
      EXPECT_EQ(y[r * 8 + t], x[r * 8 + t] + 1);
    }
  }
}

TEST(LmData, SameSeedSameBatches) {
  LmBatcher b(TokenStream::from_tokens(iota_tokens(1000)), 16);
  Generator g1(7), g2(7), g3(8);
  auto a = b.sample(g1, 4).inputs.to_vector<int64_t>();
  EXPECT_EQ(a, b.sample(g2, 4).inputs.to_vector<int64_t>());
  EXPECT_NE(a, b.sample(g3, 4).inputs.to_vector<int64_t>());
}

TEST(LmData, ExactlyContextPlusOneTokensGivesOneWindow) {
  LmBatcher b(TokenStream::from_tokens(iota_tokens(9)), 8);
  EXPECT_EQ(b.num_windows(), 1u);
  Generator g(1);
  EXPECT_EQ(b.sample(g, 2).inputs.to_vector<int64_t>()[8], 0);
}

TEST(LmData, EmptyAndTooShortCorporaAreClearErrors) {
  try {
    LmBatcher(TokenStream::from_tokens({}, "empty.txt"), 4);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("empty.txt"), std::string::npos) << e.what();
  }
  try {
    LmBatcher(TokenStream::from_tokens(iota_tokens(8), "short.txt"), 8);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("fewer than context + 1 = 9"), std::string::npos) << e.what();
  }
}

TEST(LmData, ShardStreamsMatchInMemoryStreams) {
  testing::TempDir dir;
  TokenShardWriter w(dir / "s.bin", TokenDtype::U16);
  std::vector<int32_t> toks = iota_tokens(500);
  w.append(std::span<const int32_t>(toks));
  w.close();
  TokenStream shard = TokenStream::from_shard(dir / "s.bin");
  EXPECT_EQ(shard.size(), 500u);
  EXPECT_EQ(shard.max_token(), 499u);
  auto [tr, va] = split_train_val(shard, 0.1);
  auto [mtr, mva] = split_train_val(TokenStream::from_tokens(toks), 0.1);
  Generator g1(5), g2(5);
  EXPECT_EQ(LmBatcher(va, 10).sample(g1, 3).targets.to_vector<int64_t>(),
            LmBatcher(mva, 10).sample(g2, 3).targets.to_vector<int64_t>());
}

}  // namespace
}  // namespace cairn::data
