#pragma once
// CharTokenizer: one id per Unicode code point, the vocabulary being the sorted distinct code points of a corpus
// (nanoGPT's sorted(set(text)); tinyshakespeare gives 65 symbols, '\n' = 0, ' ' = 1, ...).
#include <array>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cairn/text/tokenizer.h"

namespace cairn::text {

class CharTokenizer final : public Tokenizer {
 public:
  // Requires: corpus is non-empty valid UTF-8. With unk_token, characters outside the vocabulary encode to an extra
  // id (vocab_size() - 1) that decodes to unk_token; without it they are an error.
  // Throws TokenizerError for an empty corpus or invalid UTF-8 (naming the byte offset).
  static CharTokenizer from_corpus(std::string_view corpus, std::optional<std::string> unk_token = std::nullopt);

  // symbols: distinct code points (any order is kept as given; ids are their positions).
  explicit CharTokenizer(std::vector<char32_t> symbols, std::optional<std::string> unk_token = std::nullopt);

  std::string type() const override { return "char"; }
  // Throws TokenizerError naming the character, its byte offset and code point index when it is not in the
  // vocabulary and no unk token is configured.
  std::vector<std::int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::size_t vocab_size() const override { return symbols_.size() + (unk_token_ ? 1 : 0); }
  std::optional<std::int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(std::int32_t id) const override;
  SpecialTokenIds special_token_ids() const override;
  void save(const std::string& path) const override;

  const std::vector<char32_t>& symbols() const { return symbols_; }

 private:
  std::vector<char32_t> symbols_;
  std::optional<std::string> unk_token_;
  std::array<std::int32_t, 128> ascii_;  // -1 where absent: most text is ASCII
  std::unordered_map<char32_t, std::int32_t> other_;
};

}  // namespace cairn::text
