#include "cairn/text/bpe_tokenizer.h"
#include <set>

#include "test_util.h"

namespace cairn::text {
namespace {

TEST(TrainBpe, LearnsTheMostFrequentPairsInOrder) {
  // One pre-token repeated: "aaabdaaabac" is the textbook example; pairs are counted inside pieces only.
  BpeTokenizer tok = train_bpe("aaabdaaabac", 259);
  const auto& m = tok.merges();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0], (std::pair<std::string, std::string>{"a", "a"}));   // 4 times
  // Then ("aa","a") and ("a","b") both occur twice: the smaller pair of ids, (97, 98), wins.
  EXPECT_EQ(m[1], (std::pair<std::string, std::string>{"a", "b"}));
  EXPECT_EQ(m[2], (std::pair<std::string, std::string>{"aa", "ab"}));
  EXPECT_EQ(tok.vocab_size(), 259u);
  EXPECT_EQ(tok.decode(tok.encode("aaabdaaabac")), "aaabdaaabac");
  EXPECT_EQ(tok.encode("aaabdaaabac").size(), 5u);
}

TEST(TrainBpe, StopsWhenNoPairIsLeftAndAppendsSpecialTokens) {
  BpeTokenizer tok = train_bpe("ab ab", 1000, {"<|endoftext|>", "[PAD]"});
  // Pieces "ab" and " ab": merges (a,b) then (" ", "ab"); nothing left after that.
  ASSERT_EQ(tok.merges().size(), 2u);
  EXPECT_EQ(tok.vocab_size(), 256u + 2 + 2);
  EXPECT_EQ(tok.token_to_id("<|endoftext|>"), 258);
  EXPECT_EQ(tok.token_to_id("[PAD]"), 259);
  EXPECT_EQ(tok.special_token_ids().eos, 258);
  EXPECT_EQ(tok.special_token_ids().pad, 259);
  EXPECT_EQ(tok.encode("ab ab"), (std::vector<std::int32_t>{256, 257}));
  std::vector<std::int32_t> ids{256, 258, 257};
  EXPECT_EQ(tok.decode(ids), "ab<|endoftext|> ab");
}

TEST(TrainBpe, TinyShakespeareThousandMerges) {
  const std::string path = testing::shared_data("tinyshakespeare.txt");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is not there";
  std::string text = testing::read_bytes(path);
  BpeTokenizer tok = train_bpe(text, 256 + 1000, {"<|endoftext|>"});
  EXPECT_EQ(tok.merges().size(), 1000u - 1);  // the special token takes the last slot
  EXPECT_EQ(tok.vocab_size(), 1256u);
  // The first merges of English text with GPT-2 pre-tokenization: a space before a letter, "th", "the"...
  EXPECT_EQ(tok.merges()[0].first + tok.merges()[0].second, "\xC4\xA0t");  // "Ġt"
  std::vector<std::int32_t> ids = tok.encode(text);
  EXPECT_EQ(tok.decode(ids), text);
  double bytes_per_token = static_cast<double>(text.size()) / static_cast<double>(ids.size());
  EXPECT_GT(bytes_per_token, 2.5) << "a 1256-token vocabulary should compress Shakespeare well";
  // Merge ranks must be consistent: encoding the learnt tokens alone gives one id each.
  for (std::size_t i = 0; i < 50; ++i) {
    const auto& [a, b] = tok.merges()[i];
    std::vector<std::int32_t> single = tok.encode(tok.decode(std::vector<std::int32_t>{tok.token_to_id(a + b).value()}));
    EXPECT_EQ(single.size(), 1u) << "merge " << i;
  }
}

TEST(TrainBpe, DeterministicAndSavesLoads) {
  std::string corpus;
  for (int i = 0; i < 200; ++i) corpus += "the quick brown fox " + std::to_string(i % 17) + " jumps over the lazy dog\n";
  corpus += "\xff\xfe binary \x80 bytes";
  BpeTokenizer a = train_bpe(corpus, 400), b = train_bpe(corpus, 400);
  EXPECT_EQ(a.merges(), b.merges());
  testing::TempDir dir;
  a.save(dir.file("bpe.json"));
  std::unique_ptr<Tokenizer> back = load_tokenizer(dir.file("bpe.json"));
  EXPECT_EQ(back->vocab_size(), a.vocab_size());
  EXPECT_EQ(back->encode(corpus), a.encode(corpus));
  EXPECT_EQ(back->decode(a.encode(corpus)), corpus);
}

TEST(TrainBpe, SameBytesFromTwoPairsShareOneId) {
  // "ab"+"c" and "a"+"bc" can both be learnt; the vocabulary keeps one "abc".
  std::string corpus;
  for (int i = 0; i < 50; ++i) corpus += "ab abc bc abc ";
  BpeTokenizer tok = train_bpe(corpus, 300);
  std::set<std::string> seen;
  for (std::int32_t id = 0; id < static_cast<std::int32_t>(tok.vocab_size()); ++id) {
    EXPECT_TRUE(seen.insert(tok.id_to_token(id)).second) << "token " << id << " repeated";
  }
  EXPECT_EQ(tok.decode(tok.encode(corpus)), corpus);
}

}  // namespace
}  // namespace cairn::text
