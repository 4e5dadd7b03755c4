// Text -> fixed-length int64 id rows for an Embedding layer: the tokenizer of a `data:` section (word
// vocabulary fitted on the training texts, characters, WordPiece or BPE), padding and truncation, and its JSON
// form recorded in model files so predict/evaluate encode new text exactly as in training.
//
//   TextEncoder enc = TextEncoder::fit(config.section("tokenizer"), train_texts);
//   std::vector<int64_t> ids = enc.encode_padded("a gripping film", 64);   // 64 ids, 0 = padding
//
// Ids: 0 is padding for every tokenizer. The word vocabulary reserves 0 for padding and 1 for out-of-vocabulary
// words (as Keras's TextVectorization); tokenizers without a padding token (char, bpe) have their ids shifted by
// one; WordPiece vocabularies use their own [PAD] (id 0 in BERT's files).
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cairn/cli/config.h"

namespace cairn::text {
class Tokenizer;
}

namespace cairn::cli {

class TextEncoder {
 public:
  // Reads `tokenizer:` (a name, or {type: word|char|wordpiece|bpe, ...}) and fits what needs fitting on `train`.
  // Throws ConfigError for bad keys, text::TokenizerError for unreadable vocabulary files.
  static TextEncoder fit(const Config& tokenizer, const std::string& name, const std::vector<std::string>& train);
  static TextEncoder from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;

  // Ids of one text, without padding (unknown words/characters -> the unknown id).
  std::vector<int64_t> encode(std::string_view text) const;
  // Exactly `length` ids: truncated at the end, padded with 0 at the end. `truncated` is set when ids were cut.
  std::vector<int64_t> encode_padded(std::string_view text, int64_t length, bool* truncated = nullptr) const;
  int64_t vocab_size() const { return vocab_size_; }  // ids are in [0, vocab_size)
  int64_t unknown_id() const { return unk_id_; }      // -1 when the tokenizer has none
  const std::string& type() const { return type_; }
  std::string describe() const;
  // True when fit() learned the vocabulary from the texts (word, char, bpe with vocab_size), false when it was
  // read from files or a model.
  bool learned() const { return learned_; }

  TextEncoder();
  ~TextEncoder();
  TextEncoder(TextEncoder&&) noexcept;
  TextEncoder& operator=(TextEncoder&&) noexcept;

 private:
  std::string type_;
  bool lowercase_ = true;
  std::vector<std::string> words_;  // word: id -> word (0: "", 1: "[UNK]")
  std::unordered_map<std::string, int64_t> word_ids_;
  std::shared_ptr<const text::Tokenizer> tok_;
  nlohmann::json saved_;  // the tokenizer's own JSON (char, wordpiece, bpe)
  int64_t offset_ = 0;
  int64_t unk_id_ = -1;
  int64_t vocab_size_ = 0;
  bool learned_ = false;
};

// The words of a text as the word tokenizer sees them: runs of letters, digits, apostrophes and non-ASCII bytes
// (ASCII lower-cased when `lowercase`); everything else separates words.
std::vector<std::string> split_words(std::string_view text, bool lowercase);

}  // namespace cairn::cli
