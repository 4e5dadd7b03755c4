// MLM masking (proportions, specials untouched, determinism per (seed, epoch, example)) and encoder inputs.
#include <gtest/gtest.h>

#include "cairn/core/tensor/error.h"
#include "cairn/data/mlm.h"
#include "cairn/text/wordpiece_tokenizer.h"

namespace cairn::data {
namespace {

// [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then 96 ordinary tokens.
constexpr int64_t kVocab = 100;
MlmMasker small_masker(uint64_t seed = 7) { return MlmMasker(kVocab, 4, {0, 1, 2, 3}, {}, seed); }

// B rows of [CLS] t... [SEP] [PAD] [PAD] with ordinary tokens 5..99.
Tensor rows(int64_t B, int64_t T) {
  Tensor x = Tensor::empty({B, T}, DType::i64);
  int64_t* p = x.data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      int64_t id = 5 + (b * 31 + t * 7) % 95;
      if (t == 0) id = 2;
      if (t == T - 3) id = 3;
      if (t >= T - 2) id = 0;
      p[b * T + t] = id;
    }
  }
  return x;
}

std::vector<int64_t> iota(int64_t n, int64_t start = 0) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + i;
  return v;
}

TEST(Mlm, ProportionsFollowBert) {
  const int64_t B = 400, T = 64;
  Tensor x = rows(B, T);
  MlmBatch m = small_masker().mask(x, 0, iota(B));
  const int64_t* in = x.data<int64_t>();
  const int64_t* out = m.input_ids.data<int64_t>();
  const int64_t* lab = m.labels.data<int64_t>();
  int64_t ordinary = 0, chosen = 0, masked = 0, random = 0, kept = 0;
  for (int64_t k = 0; k < B * T; ++k) {
    const bool special = in[k] < 5;
    if (special) {
      EXPECT_EQ(out[k], in[k]) << "special tokens are never changed";
      EXPECT_EQ(lab[k], -100) << "special tokens are never predicted";
      continue;
    }
    ++ordinary;
    if (lab[k] == -100) {
      EXPECT_EQ(out[k], in[k]) << "unchosen tokens are unchanged";
      continue;
    }
    ++chosen;
    EXPECT_EQ(lab[k], in[k]) << "the label is the original token";
    if (out[k] == 4) ++masked;
    else if (out[k] == in[k]) ++kept;
    else {
      ++random;
      EXPECT_GE(out[k], 5) << "random replacements are ordinary tokens";
      EXPECT_LT(out[k], kVocab);
    }
  }
  EXPECT_EQ(chosen, m.num_chosen);
  // 24,400 ordinary tokens: 3 sigma of the binomial is about 0.7% of the rate, wider bands for the sub-splits.
  EXPECT_NEAR(double(chosen) / ordinary, 0.15, 0.01);
  EXPECT_NEAR(double(masked) / chosen, 0.80, 0.025);
  // A random draw hits the original token 1 time in 95: those count as "kept".
  EXPECT_NEAR(double(random) / chosen, 0.10 * 94 / 95, 0.02);
  EXPECT_NEAR(double(kept) / chosen, 0.10 + 0.10 / 95, 0.02);
}

TEST(Mlm, DeterministicPerExampleAndEpoch) {
  const int64_t B = 16, T = 32;
  Tensor x = rows(B, T);
  MlmMasker a = small_masker(), b = small_masker();
  MlmBatch m1 = a.mask(x, 3, iota(B, 100));
  MlmBatch m2 = b.mask(x, 3, iota(B, 100));
  EXPECT_EQ(m1.input_ids.to_vector<int64_t>(), m2.input_ids.to_vector<int64_t>());
  EXPECT_EQ(m1.labels.to_vector<int64_t>(), m2.labels.to_vector<int64_t>());

  // Row 5 alone (example 105) is masked as it was inside the batch: batching does not change the mask.
  MlmBatch one = a.mask(x.narrow(0, 5, 1).contiguous(), 3, {105});
  EXPECT_EQ(one.labels.to_vector<int64_t>(), m1.labels.narrow(0, 5, 1).contiguous().to_vector<int64_t>());

  // Another epoch or seed gives another mask.
  EXPECT_NE(a.mask(x, 4, iota(B, 100)).labels.to_vector<int64_t>(), m1.labels.to_vector<int64_t>());
  EXPECT_NE(small_masker(8).mask(x, 3, iota(B, 100)).labels.to_vector<int64_t>(), m1.labels.to_vector<int64_t>());
}

TEST(Mlm, BadInputsAreNamed) {
  EXPECT_THROW(MlmMasker(kVocab, 4, {}, {.mask_probability = 1.5}, 0), ValueError);
  EXPECT_THROW(MlmMasker(kVocab, 4, {}, {.replace_with_mask = 0.9, .replace_with_random = 0.2}, 0), ValueError);
  EXPECT_THROW(MlmMasker(kVocab, 100, {}, {}, 0), ValueError);
  MlmMasker m = small_masker();
  Tensor x = rows(2, 8);
  EXPECT_THROW(m.mask(x, 0, {0}), ValueError);
  x.data<int64_t>()[3] = 250;
  try {
    m.mask(x, 0, {0, 1});
    FAIL();
  } catch (const IndexError& e) {
    EXPECT_NE(std::string(e.what()).find("another vocabulary"), std::string::npos) << e.what();
  }
}

TEST(Mlm, EncodeForEncoderWrapsPadsAndTruncates) {
  text::WordPieceTokenizer tok({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "film", "bad", "##ly"});
  EncodedTexts e = encode_for_encoder(tok, {"good film", "badly good film good"}, 5);
  EXPECT_EQ(e.input_ids.to_vector<int64_t>(), (std::vector<int64_t>{2, 5, 6, 3, 0, 2, 7, 8, 5, 3}));
  EXPECT_EQ(e.attention_mask.to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 1, 1, 0, 1, 1, 1, 1, 1}));
  EXPECT_EQ(e.truncated, 1);
  MlmMasker m(tok, {}, 1);
  EXPECT_TRUE(m.is_special(0) && m.is_special(4) && !m.is_special(5));
  EXPECT_THROW(encode_for_encoder(text::WordPieceTokenizer({"[UNK]", "a"}), {"a"}, 8), text::TokenizerError);
}

}  // namespace
}  // namespace cairn::data
