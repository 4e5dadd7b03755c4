// Acceptance: bad input is a TokenizerError that names the file and line (or the offending value).
#include <nlohmann/json.hpp>

#include "cairn/text/bpe_tokenizer.h"
#include "cairn/text/char_tokenizer.h"
#include "cairn/text/wordpiece_tokenizer.h"
#include "test_util.h"

namespace cairn::text {
namespace {

using testing::golden;
using testing::write_bytes;

// A tiny but complete byte-level vocabulary: the 256 bytes plus "ab" and "abc".
std::string tiny_encoder_json(const std::string& extra = "") {
  nlohmann::json j = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) j[bytes_to_unicode(std::string(1, static_cast<char>(b)))] = b;
  j["ab"] = 256;
  j["abc"] = 257;
  std::string s = j.dump();
  if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
  return s;
}

TEST(BadInput, Gpt2MissingFiles) {
  testing::TempDir dir;
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("nope.json"), golden("gpt2/vocab.bpe")),
                         "GPT-2 encoder.json", "nope.json");
  write_bytes(dir.file("encoder.json"), tiny_encoder_json());
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("missing.bpe")),
                         "GPT-2 vocab.bpe", "missing.bpe");
}

TEST(BadInput, Gpt2CorruptEncoderJson) {
  testing::TempDir dir;
  write_bytes(dir.file("encoder.json"), "{\"a\": 0,\n \"b\": 1,\n \"c\" 2}");
  write_bytes(dir.file("vocab.bpe"), "#version: 0.2\n");
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("vocab.bpe")),
                         "encoder.json:3:", "not valid JSON");
  write_bytes(dir.file("encoder.json"), tiny_encoder_json("\"xyz\": 300"));
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("vocab.bpe")),
                         "encoder.json", "'xyz'", "id 300");
  write_bytes(dir.file("encoder.json"), tiny_encoder_json("\"xyz\": \"7\""));
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("vocab.bpe")),
                         "encoder.json", "'xyz'", "expected an integer id");
  write_bytes(dir.file("encoder.json"), "{\"a\": 0}");
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("vocab.bpe")),
                         "encoder.json", "single-byte token");
}

TEST(BadInput, Gpt2CorruptMerges) {
  testing::TempDir dir;
  write_bytes(dir.file("encoder.json"), tiny_encoder_json());
  write_bytes(dir.file("ok.bpe"), "#version: 0.2\na b\nab c\n");
  BpeTokenizer ok = BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("ok.bpe"));
  EXPECT_EQ(ok.encode("abc abx"), (std::vector<std::int32_t>{257, ok.token_to_id("\xC4\xA0").value(), 256, 'x'}));

  write_bytes(dir.file("bad1.bpe"), "#version: 0.2\na b\nabc\n");
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("bad1.bpe")),
                         "bad1.bpe:3:", "two tokens");
  write_bytes(dir.file("bad2.bpe"), "#version: 0.2\na b\nb c\n");
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("bad2.bpe")),
                         "bad2.bpe:3:", "'bc' is not in");
  write_bytes(dir.file("order.bpe"), "#version: 0.2\nab c\na b\n");
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("order.bpe")),
                         "order.bpe:2:", "merge 'ab c'", "out of order");
  // The same rule holds for vocabularies given directly.
  std::vector<std::string> vocab;
  for (int b = 0; b < 256; ++b) vocab.push_back(bytes_to_unicode(std::string(1, static_cast<char>(b))));
  vocab.push_back("ab");
  vocab.push_back("abc");
  EXPECT_TOKENIZER_ERROR(BpeTokenizer(vocab, {{"ab", "c"}, {"a", "b"}}, {}), "merge 0 'ab c'", "earlier merge");
  write_bytes(dir.file("bad3.bpe"), "#version: 0.2\na b\n\nab c\n");
  EXPECT_TOKENIZER_ERROR(BpeTokenizer::from_gpt2_files(dir.file("encoder.json"), dir.file("bad3.bpe")),
                         "bad3.bpe:3:", "empty line");
}

TEST(BadInput, WordPieceVocabFiles) {
  testing::TempDir dir;
  EXPECT_TOKENIZER_ERROR(WordPieceTokenizer::from_vocab_file(dir.file("absent.txt")), "vocab.txt", "absent.txt");
  write_bytes(dir.file("empty_line.txt"), "[PAD]\n[UNK]\n\nhello\n");
  EXPECT_TOKENIZER_ERROR(WordPieceTokenizer::from_vocab_file(dir.file("empty_line.txt")), "empty_line.txt:3:",
                         "empty line");
  write_bytes(dir.file("dup.txt"), "[PAD]\n[UNK]\nhello\nworld\nhello\n");
  EXPECT_TOKENIZER_ERROR(WordPieceTokenizer::from_vocab_file(dir.file("dup.txt")), "dup.txt:5:",
                         "already appears on line 3");
  write_bytes(dir.file("latin1.txt"), "[UNK]\ncaf\xe9\n");
  EXPECT_TOKENIZER_ERROR(WordPieceTokenizer::from_vocab_file(dir.file("latin1.txt")), "latin1.txt:2:", "UTF-8");
  write_bytes(dir.file("no_unk.txt"), "[PAD]\nhello\n");
  EXPECT_TOKENIZER_ERROR(WordPieceTokenizer::from_vocab_file(dir.file("no_unk.txt")), "no_unk.txt", "'[UNK]'");
  write_bytes(dir.file("crlf.txt"), "[UNK]\r\nhello\r\n##s\r\n");
  WordPieceTokenizer crlf = WordPieceTokenizer::from_vocab_file(dir.file("crlf.txt"));
  EXPECT_EQ(crlf.encode("hellos"), (std::vector<std::int32_t>{1, 2}));
}

TEST(BadInput, InvalidUtf8ForUtf8Tokenizers) {
  WordPieceTokenizer wp(std::vector<std::string>{"[UNK]", "caf"});
  EXPECT_TOKENIZER_ERROR(wp.encode("caf\xe9 au lait"), "not valid UTF-8", "byte offset 3", "latin1_to_utf8");
  CharTokenizer ch = CharTokenizer::from_corpus("abc");
  EXPECT_TOKENIZER_ERROR(ch.encode("ab\xff"), "not valid UTF-8", "byte offset 2");
  EXPECT_TOKENIZER_ERROR(CharTokenizer::from_corpus("x\xc3"), "not valid UTF-8", "byte offset 1");
}

TEST(BadInput, EmptyCorpusForTraining) {
  EXPECT_TOKENIZER_ERROR(train_bpe("", 300), "train_bpe", "corpus is empty");
  EXPECT_TOKENIZER_ERROR(CharTokenizer::from_corpus(""), "corpus is empty");
  EXPECT_TOKENIZER_ERROR(train_bpe("abc", 200), "vocab_size 200");
  EXPECT_TOKENIZER_ERROR(train_bpe("abc", 258, {"a"}), "special token 'a'");
}

TEST(BadInput, SavedTokenizerFiles) {
  testing::TempDir dir;
  EXPECT_TOKENIZER_ERROR(load_tokenizer(dir.file("none.json")), "none.json");
  write_bytes(dir.file("truncated.json"), "{\"type\": \"char\",\n \"symbols\": [\"a\", ");
  EXPECT_TOKENIZER_ERROR(load_tokenizer(dir.file("truncated.json")), "truncated.json:2:", "not valid JSON");
  write_bytes(dir.file("type.json"), "{\"type\": \"sentencepiece\"}");
  EXPECT_TOKENIZER_ERROR(load_tokenizer(dir.file("type.json")), "type.json", "unknown tokenizer type 'sentencepiece'");
  write_bytes(dir.file("notype.json"), "[1, 2]");
  EXPECT_TOKENIZER_ERROR(load_tokenizer(dir.file("notype.json")), "notype.json", "JSON object");
  write_bytes(dir.file("chars.json"), "{\"type\": \"char\", \"symbols\": [\"a\", \"bc\"]}");
  EXPECT_TOKENIZER_ERROR(load_tokenizer(dir.file("chars.json")), "chars.json", "symbols[1]");
  write_bytes(dir.file("bpe.json"), "{\"type\": \"bpe\", \"vocab\": [\"a\"], \"merges\": [], \"special_tokens\": []}");
  EXPECT_TOKENIZER_ERROR(load_tokenizer(dir.file("bpe.json")), "bpe.json", "single-byte token");
  write_bytes(dir.file("wp.json"), "{\"type\": \"wordpiece\", \"vocab\": [\"[UNK]\"], \"lower_case\": 1}");
  EXPECT_TOKENIZER_ERROR(load_tokenizer(dir.file("wp.json")), "wp.json", "'lower_case'", "boolean");
}

TEST(BadInput, SaveToUnwritablePlace) {
  CharTokenizer ch = CharTokenizer::from_corpus("abc");
  EXPECT_TOKENIZER_ERROR(ch.save("/nonexistent-dir/tok.json"), "cannot write", "/nonexistent-dir");
}

}  // namespace
}  // namespace cairn::text
