#include "cairn/text/char_tokenizer.h"
#include "test_util.h"

namespace cairn::text {
namespace {

TEST(CharTokenizer, TinyShakespeareHas65SortedSymbols) {
  const std::string path = testing::shared_data("tinyshakespeare.txt");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is not there";
  std::string text = testing::read_bytes(path);
  CharTokenizer tok = CharTokenizer::from_corpus(text);
  EXPECT_EQ(tok.vocab_size(), 65u);  // nanoGPT's shakespeare_char
  EXPECT_EQ(tok.token_to_id("\n"), 0);
  EXPECT_EQ(tok.token_to_id(" "), 1);
  EXPECT_EQ(tok.token_to_id("A"), 13);
  EXPECT_EQ(tok.token_to_id("a"), 39);
  EXPECT_EQ(tok.encode("hii there"), (std::vector<std::int32_t>{46, 47, 47, 1, 58, 46, 43, 56, 43}));
  std::vector<std::int32_t> ids = tok.encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(CharTokenizer, CodePointsNotBytes) {
  CharTokenizer tok = CharTokenizer::from_corpus("héllo wörld 中😀");
  EXPECT_EQ(tok.vocab_size(), 11u);  // ' ' d h l o r w é ö 中 😀
  std::vector<std::int32_t> ids = tok.encode("😀中é");
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(tok.decode(ids), "😀中é");
  EXPECT_EQ(tok.id_to_token(static_cast<std::int32_t>(tok.vocab_size()) - 1), "😀");  // sorted by code point
}

TEST(CharTokenizer, UnknownCharacterNamesItAndItsPosition) {
  CharTokenizer tok = CharTokenizer::from_corpus("abc ");
  EXPECT_TOKENIZER_ERROR(tok.encode("ab cé"), "U+00E9 'é'", "byte offset 4", "character 4", "unk token");
  EXPECT_TOKENIZER_ERROR(tok.encode("a\x01"), "U+0001", "byte offset 1");
}

TEST(CharTokenizer, OptionalUnknownToken) {
  CharTokenizer tok = CharTokenizer::from_corpus("abc", "[UNK]");
  EXPECT_EQ(tok.vocab_size(), 4u);
  EXPECT_EQ(tok.special_token_ids().unk, 3);
  EXPECT_EQ(tok.encode("axc"), (std::vector<std::int32_t>{0, 3, 2}));
  EXPECT_EQ(tok.decode(std::vector<std::int32_t>{0, 3, 2}), "a[UNK]c");
  EXPECT_EQ(tok.token_to_id("[UNK]"), 3);
  EXPECT_TOKENIZER_ERROR(tok.decode(std::vector<std::int32_t>{4}), "id 4", "[0, 4)");
  EXPECT_TOKENIZER_ERROR(CharTokenizer::from_corpus("abc", "b"), "unk token 'b'", "also a symbol");
}

TEST(CharTokenizer, SaveAndLoad) {
  testing::TempDir dir;
  CharTokenizer tok = CharTokenizer::from_corpus("To be, or not to be: ünïcödé 中😀\n", "<unk>");
  tok.save(dir.file("char.json"));
  std::unique_ptr<Tokenizer> back = load_tokenizer(dir.file("char.json"));
  EXPECT_EQ(back->type(), "char");
  EXPECT_EQ(back->vocab_size(), tok.vocab_size());
  EXPECT_EQ(back->encode("be ünï 😀 ?"), tok.encode("be ünï 😀 ?"));
  EXPECT_EQ(back->special_token_ids().unk, tok.special_token_ids().unk);
}

}  // namespace
}  // namespace cairn::text
