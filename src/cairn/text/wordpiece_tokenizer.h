#pragma once
// WordPiece exactly as BERT's FullTokenizer (google-research/bert tokenization.py), e.g. bert-base-uncased:
//   BasicTokenizer: drop NUL, U+FFFD and control characters, turn whitespace into spaces, put spaces around CJK
//   ideographs, split on whitespace, then per word lower-case (Python's str.lower), strip accents (NFD, drop Mn)
//   and split off punctuation (Unicode P* plus ASCII symbols such as $ + < = > ^ ` | ~);
//   WordPiece: greedy longest-match-first over the vocabulary, continuation pieces prefixed "##", a word longer
//   than 100 code points or with no full cover -> [UNK].
#include <string>
#include <unordered_map>
#include <vector>

#include "cairn/text/tokenizer.h"

namespace cairn::text {

struct WordPieceOptions {
  bool lower_case = true;             // also strips accents, as BERT's uncased models do
  bool tokenize_chinese_chars = true;
  std::string unk_token = "[UNK]";
  std::string continuing_prefix = "##";
  std::size_t max_input_chars_per_word = 100;
};

class WordPieceTokenizer final : public Tokenizer {
 public:
  // vocab.txt: one token per line, id = line number - 1 (a trailing '\r' is dropped).
  // Throws TokenizerError naming the file and line for an unreadable file, an empty line, invalid UTF-8 or a
  // repeated token, and when unk_token is not in the vocabulary.
  static WordPieceTokenizer from_vocab_file(const std::string& vocab_txt_path, WordPieceOptions options = {});

  explicit WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options = {},
                              const std::string& source = "");

  std::string type() const override { return "wordpiece"; }
  // Requires valid UTF-8 (throws TokenizerError with the byte offset otherwise; see latin1_to_utf8).
  std::vector<std::int32_t> encode(std::string_view text) const override;
  // Tokens joined by spaces with "##" continuations glued to the previous token ([PAD] dropped). Lossy.
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::size_t vocab_size() const override { return vocab_.size(); }
  std::optional<std::int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(std::int32_t id) const override;
  // [PAD] [UNK] [CLS] [SEP] [MASK] where the vocabulary has them.
  SpecialTokenIds special_token_ids() const override;
  void save(const std::string& path) const override;

  // The BasicTokenizer's words (UTF-8) and the WordPiece tokens, for inspection and tests.
  std::vector<std::string> basic_tokenize(std::string_view text) const;
  std::vector<std::string> tokenize(std::string_view text) const;
  const WordPieceOptions& options() const { return options_; }

 private:
  void wordpiece(const std::u32string& word, std::vector<std::int32_t>& out) const;
  std::vector<std::u32string> basic_words(std::string_view text) const;

  std::vector<std::string> vocab_;
  WordPieceOptions options_;
  std::unordered_map<std::string, std::int32_t> ids_;
  std::int32_t unk_id_ = -1;
};

}  // namespace cairn::text
