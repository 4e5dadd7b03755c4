// GPT-2 byte-level BPE against the JavaScript reference encoder (ids written by tools/golden/tokenizers/make_refs.sh).
#include <nlohmann/json.hpp>

#include <random>

#include "cairn/text/bpe_tokenizer.h"
#include "test_util.h"

namespace cairn::text {
namespace {

using testing::golden;

const BpeTokenizer& gpt2() {
  static const BpeTokenizer tok =
      BpeTokenizer::from_gpt2_files(golden("gpt2/encoder.json"), golden("gpt2/vocab.bpe"));
  return tok;
}

std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view p : gpt2_pretokenize(text)) out.emplace_back(p);
  return out;
}

TEST(Gpt2Pretokenize, FollowsTheRegexAlternatives) {
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces("it's they're I've we'll he'd I'm don't"),
            (V{"it", "'s", " they", "'re", " I", "'ve", " we", "'ll", " he", "'d", " I", "'m", " don", "'t"}));
  EXPECT_EQ(pieces("IT'S"), (V{"IT", "'", "S"}));  // contractions are case-sensitive
  EXPECT_EQ(pieces("a   b"), (V{"a", "  ", " b"}));  // \s+(?!\S) leaves one space for the word
  EXPECT_EQ(pieces("a \n b"), (V{"a", " \n", " b"}));
  EXPECT_EQ(pieces("x\n\ny"), (V{"x", "\n", "\n", "y"}));
  EXPECT_EQ(pieces("end  "), (V{"end", "  "}));
  EXPECT_EQ(pieces("abc123 456!?"), (V{"abc", "123", " 456", "!?"}));
  EXPECT_EQ(pieces("café 中文"), (V{"café", " 中文"}));
  EXPECT_EQ(pieces("٣٤ Ⅻ"), (V{"٣٤", " Ⅻ"}));  // Arabic-Indic digits and Roman numerals are \p{N}
  EXPECT_EQ(pieces("''s"), (V{"''", "s"}));
  EXPECT_EQ(pieces(""), V{});
}

// The reference is the JavaScript port, whose \s has U+FEFF but not U+0085 (Python's regex module: the reverse).
// corpus.txt has a line where this changes the ids (Hugging Face's byte-level BPE, Python semantics, differs there).
TEST(Gpt2Pretokenize, WhitespaceIsJavaScripts) {
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces("x \u0085y"), (V{"x", " \u0085", "y"}));        // U+0085 is punctuation-like
  EXPECT_EQ(pieces("x \ufeffz"), (V{"x", " ", "\ufeff", "z"}));   // U+FEFF is whitespace
}

TEST(Gpt2Pretokenize, InvalidUtf8BytesGroupLikePunctuation) {
  std::string text = "ab\xff\xfe cd \x80x";
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces(text), (V{"ab", "\xff\xfe", " cd", " \x80", "x"}));
}

TEST(Gpt2Bpe, KnownIds) {
  EXPECT_EQ(gpt2().vocab_size(), 50257u);
  EXPECT_EQ(gpt2().encode("Hello world"), (std::vector<std::int32_t>{15496, 995}));
  EXPECT_EQ(gpt2().token_to_id("<|endoftext|>"), 50256);
  EXPECT_EQ(gpt2().id_to_token(995), "\xC4\xA0world");  // "Ġworld"
  EXPECT_EQ(gpt2().special_token_ids().eos, 50256);
  EXPECT_EQ(bytes_to_unicode(" \n!"), "\xC4\xA0\xC4\x8A!");  // "ĠĊ!"
}

TEST(Gpt2Bpe, MatchesReferenceOnTestCorpus) {
  std::string corpus = testing::read_bytes(golden("corpus.txt"));
  auto expected = nlohmann::json::parse(testing::read_bytes(golden("gpt2_corpus_ids.json"))).get<std::vector<std::int32_t>>();
  std::vector<std::int32_t> ids = gpt2().encode(corpus);
  ASSERT_EQ(ids.size(), expected.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(ids[i], expected[i]) << "first difference at token " << i << " ('" << gpt2().id_to_token(expected[i])
                                   << "' expected)";
  }
  EXPECT_EQ(gpt2().decode(ids), corpus);
}

TEST(Gpt2Bpe, MatchesReferenceOnTinyShakespeare) {
  const std::string path = testing::shared_data("tinyshakespeare.txt");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is not there";
  std::string text = testing::read_bytes(path);
  auto meta = nlohmann::json::parse(testing::read_bytes(golden("gpt2_tinyshakespeare.json")));
  ASSERT_EQ(text.size(), meta["bytes"].get<std::size_t>()) << "shared data changed; rerun make_refs.sh";
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(testing::fnv1a64(text)));
  ASSERT_EQ(std::string(hash), meta["fnv1a64"].get<std::string>()) << "shared data changed; rerun make_refs.sh";

  std::string bin = testing::read_bytes(golden("gpt2_tinyshakespeare.u16le"));
  std::vector<std::int32_t> expected(bin.size() / 2);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    expected[i] = static_cast<unsigned char>(bin[2 * i]) | (static_cast<unsigned char>(bin[2 * i + 1]) << 8);
  }
  ASSERT_EQ(expected.size(), 338025u);
  std::vector<std::int32_t> ids = gpt2().encode(text);
  ASSERT_EQ(ids.size(), expected.size());
  EXPECT_TRUE(ids == expected);
  EXPECT_EQ(gpt2().decode(ids), text);
}

// Acceptance: arbitrary bytes, invalid UTF-8 included, come back exactly.
TEST(Gpt2Bpe, RoundTripsRandomBytes) {
  std::mt19937 rng(1234);
  std::string shakespeare_like = "First Citizen: Before we proceed any further, hear me speak. é中😀";
  for (int trial = 0; trial < 3000; ++trial) {
    std::size_t n = rng() % 64;
    std::string s;
    int mode = trial % 3;
    for (std::size_t i = 0; i < n; ++i) {
      if (mode == 0) {
        s.push_back(static_cast<char>(rng() & 0xFF));  // uniform bytes: mostly invalid UTF-8
      } else if (mode == 1) {
        s.push_back(shakespeare_like[rng() % shakespeare_like.size()]);  // text cut at random bytes
      } else {
        static const char* const kBits[] = {" ", "  ", "\n", "'s", "'", "a", "Z", "7", "\xC3", "\xA9", "\xE4\xB8",
                                            "\xF0\x9F\x98\x80", "\xED\xA0\x80", "\xC0\xAF", "\t", "\xC2\xA0", "!"};
        s += kBits[rng() % (sizeof kBits / sizeof *kBits)];
      }
    }
    std::vector<std::int32_t> ids = gpt2().encode(s);
    ASSERT_EQ(gpt2().decode(ids), s) << "trial " << trial;
    for (std::int32_t id : ids) ASSERT_LT(id, 50256);  // plain text never yields <|endoftext|>
  }
}

TEST(Gpt2Bpe, LongPiecesRoundTrip) {
  // One pre-token of 50,000 letters (and one of spaces): merged with a heap, not GPT-2's quadratic loop.
  std::mt19937 rng(7);
  std::string letters(50000, 'a');
  for (char& c : letters) c = static_cast<char>('a' + rng() % 26);
  std::vector<std::int32_t> ids = gpt2().encode(letters);
  EXPECT_LT(ids.size(), letters.size() * 3 / 4);  // random letters still pair up
  EXPECT_EQ(gpt2().decode(ids), letters);
  std::string spaces(100000, ' ');
  EXPECT_EQ(gpt2().decode(gpt2().encode(spaces)), spaces);
}

TEST(Gpt2Bpe, SaveAndLoadGivesTheSameTokenizer) {
  testing::TempDir dir;
  gpt2().save(dir.file("gpt2.json"));
  std::unique_ptr<Tokenizer> back = load_tokenizer(dir.file("gpt2.json"));
  EXPECT_EQ(back->type(), "bpe");
  EXPECT_EQ(back->vocab_size(), 50257u);
  std::string corpus = testing::read_bytes(golden("corpus.txt"));
  EXPECT_EQ(back->encode(corpus), gpt2().encode(corpus));
  EXPECT_EQ(back->special_token_ids().eos, 50256);
}

TEST(Gpt2Bpe, DecodeRejectsIdsOutOfRange) {
  std::vector<std::int32_t> ids{15496, 50257};
  EXPECT_TOKENIZER_ERROR(gpt2().decode(ids), "id 50257", "position 1", "[0, 50257)");
  std::vector<std::int32_t> negative{-1};
  EXPECT_TOKENIZER_ERROR(gpt2().decode(negative), "id -1", "position 0");
  EXPECT_TOKENIZER_ERROR(gpt2().id_to_token(60000), "id 60000");
}

}  // namespace
}  // namespace cairn::text
