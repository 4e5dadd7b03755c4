// encode_batch: special tokens, pairs, truncation, padding, masks.
#include "cairn/text/bpe_tokenizer.h"
#include "cairn/text/char_tokenizer.h"
#include "cairn/text/wordpiece_tokenizer.h"
#include "test_util.h"

namespace cairn::text {
namespace {

using Ids = std::vector<std::int32_t>;
using Rows = std::vector<Ids>;

// [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 a=5 b=6 c=7 d=8 e=9
WordPieceTokenizer small_bert() {
  return WordPieceTokenizer(std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e"});
}

TEST(EncodeBatch, DefaultsAddClsSepWithoutPadding) {
  BatchEncoding b = small_bert().encode_batch({"a b", "c"});
  EXPECT_EQ(b.input_ids, (Rows{{2, 5, 6, 3}, {2, 7, 3}}));
  EXPECT_EQ(b.attention_mask, (Rows{{1, 1, 1, 1}, {1, 1, 1}}));
  EXPECT_EQ(b.token_type_ids, (Rows{{0, 0, 0, 0}, {0, 0, 0}}));
  EncodeOptions plain;
  plain.add_special_tokens = false;
  EXPECT_EQ(small_bert().encode_batch({"a b"}, plain).input_ids, (Rows{{5, 6}}));
}

TEST(EncodeBatch, PadToLongestRightAndLeft) {
  EncodeOptions o;
  o.padding = Padding::Longest;
  BatchEncoding r = small_bert().encode_batch({"a b c", "d"}, o);
  EXPECT_EQ(r.input_ids, (Rows{{2, 5, 6, 7, 3}, {2, 8, 3, 0, 0}}));
  EXPECT_EQ(r.attention_mask, (Rows{{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}));
  o.padding_side = Side::Left;
  BatchEncoding l = small_bert().encode_batch({"a b c", "d"}, o);
  EXPECT_EQ(l.input_ids, (Rows{{2, 5, 6, 7, 3}, {0, 0, 2, 8, 3}}));
  EXPECT_EQ(l.attention_mask, (Rows{{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}}));
}

TEST(EncodeBatch, TruncateAndPadToMaxLength) {
  EncodeOptions o;
  o.padding = Padding::MaxLength;
  o.truncation = true;
  o.max_length = 4;
  BatchEncoding b = small_bert().encode_batch({"a b c d e", "e"}, o);
  EXPECT_EQ(b.input_ids, (Rows{{2, 5, 6, 3}, {2, 9, 3, 0}}));
  o.truncation_side = Side::Left;
  EXPECT_EQ(small_bert().encode_batch({"a b c d e"}, o).input_ids, (Rows{{2, 8, 9, 3}}));
}

TEST(EncodeBatch, SentencePairsLikeBert) {
  BatchEncoding b = small_bert().encode_batch_pairs({"a b"}, {"c d e"});
  EXPECT_EQ(b.input_ids, (Rows{{2, 5, 6, 3, 7, 8, 9, 3}}));
  EXPECT_EQ(b.token_type_ids, (Rows{{0, 0, 0, 0, 1, 1, 1, 1}}));
  // longest_first: 2 + 3 tokens into 7 - 3 = 4 slots drops one from the longer second sequence.
  EncodeOptions o;
  o.truncation = true;
  o.max_length = 7;
  o.padding = Padding::MaxLength;
  BatchEncoding t = small_bert().encode_batch_pairs({"a b", "a"}, {"c d e", "b"}, o);
  EXPECT_EQ(t.input_ids, (Rows{{2, 5, 6, 3, 7, 8, 3}, {2, 5, 3, 6, 3, 0, 0}}));
  EXPECT_EQ(t.token_type_ids, (Rows{{0, 0, 0, 0, 1, 1, 1}, {0, 0, 0, 1, 1, 0, 0}}));
  EXPECT_EQ(t.attention_mask, (Rows{{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 0, 0}}));
  // Equal lengths: the second loses first.
  o.max_length = 6;
  o.padding = Padding::None;
  EXPECT_EQ(small_bert().encode_batch_pairs({"a b"}, {"c d"}, o).input_ids, (Rows{{2, 5, 6, 3, 7, 3}}));
}

TEST(EncodeBatch, TokenizersWithoutClsSepAddNothing) {
  CharTokenizer chars = CharTokenizer::from_corpus("abc");
  BatchEncoding b = chars.encode_batch_pairs({"ab"}, {"c"});
  EXPECT_EQ(b.input_ids, (Rows{{0, 1, 2}}));
  EXPECT_EQ(b.token_type_ids, (Rows{{0, 0, 1}}));
  EncodeOptions o;
  o.padding = Padding::Longest;
  EXPECT_TOKENIZER_ERROR(chars.encode_batch({"a", "abc"}, o), "no pad token", "pad_id");
  o.pad_id = 2;
  EXPECT_EQ(chars.encode_batch({"a", "abc"}, o).input_ids, (Rows{{0, 2, 2}, {0, 1, 2}}));
}

TEST(EncodeBatch, InconsistentOptionsAreErrors) {
  EncodeOptions o;
  o.truncation = true;
  EXPECT_TOKENIZER_ERROR(small_bert().encode_batch({"a"}, o), "max_length > 0");
  o.max_length = 2;
  EXPECT_TOKENIZER_ERROR(small_bert().encode_batch({"a"}, o), "max_length 2", "special tokens");
  EncodeOptions p;
  p.padding = Padding::MaxLength;
  p.max_length = 3;
  EXPECT_TOKENIZER_ERROR(small_bert().encode_batch({"a b c"}, p), "5 tokens", "max_length 3", "truncation");
  EXPECT_TOKENIZER_ERROR(small_bert().encode_batch_pairs({"a", "b"}, {"c"}), "2 first sequences but 1");
  p.max_length = 8;
  p.pad_id = 99;
  EXPECT_TOKENIZER_ERROR(small_bert().encode_batch({"a"}, p), "id 99");
}

}  // namespace
}  // namespace cairn::text
