#include "cairn/text/vocab_prune.h"
#include "test_util.h"

namespace cairn::text {
namespace {

TEST(VocabPrune, KeepsCorpusPiecesCharactersAndSpecials) {
  const WordPieceTokenizer full = WordPieceTokenizer::from_vocab_file(testing::golden("bert/vocab.txt"));
  const std::vector<std::string> corpus = {"A gorgeous, witty film.", "The film is dull and witty."};
  const WordPieceTokenizer small = prune_wordpiece_vocab(full, corpus);
  EXPECT_LT(small.vocab_size(), 100u);
  EXPECT_EQ(small.token_to_id("[PAD]"), 0);
  EXPECT_EQ(small.token_to_id("[MASK]"), 4);
  // The corpus tokenizes exactly as with the full vocabulary.
  for (const auto& s : corpus) EXPECT_EQ(small.tokenize(s), full.tokenize(s));
  // An unseen word made of seen characters is spelled with smaller pieces, not [UNK].
  const auto pieces = small.tokenize("tidy");
  EXPECT_EQ(pieces, (std::vector<std::string>{"t", "##i", "##d", "##y"}));

  // min_count 2 drops pieces seen once ("gorgeous") and spells them with smaller pieces.
  const WordPieceTokenizer rarer = prune_wordpiece_vocab(full, corpus, 2);
  EXPECT_TRUE(rarer.token_to_id("film").has_value());
  EXPECT_FALSE(rarer.token_to_id("gorgeous").has_value());
  EXPECT_THROW(prune_wordpiece_vocab(full, corpus, 0), TokenizerError);
}

}  // namespace
}  // namespace cairn::text

namespace cairn::text {
namespace {

TEST(VocabPrune, FingerprintTellsVocabulariesApart) {
  WordPieceTokenizer a({"[PAD]", "[UNK]", "good", "film"}), b({"[PAD]", "[UNK]", "film", "good"});
  EXPECT_EQ(vocab_fingerprint(a), vocab_fingerprint(WordPieceTokenizer({"[PAD]", "[UNK]", "good", "film"})));
  EXPECT_NE(vocab_fingerprint(a), vocab_fingerprint(b));  // same tokens, other ids
  EXPECT_EQ(vocab_fingerprint(a).rfind("wordpiece-4-", 0), 0u);
}

}  // namespace
}  // namespace cairn::text
