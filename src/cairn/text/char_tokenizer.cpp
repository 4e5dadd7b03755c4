#include "cairn/text/char_tokenizer.h"

#include <algorithm>

#include "cairn/text/detail.h"
#include "cairn/text/utf8.h"

namespace cairn::text {

CharTokenizer CharTokenizer::from_corpus(std::string_view corpus, std::optional<std::string> unk_token) {
  if (corpus.empty()) {
    throw TokenizerError("CharTokenizer::from_corpus: the corpus is empty; a vocabulary needs at least one character");
  }
  std::u32string cps = to_utf32(corpus, "CharTokenizer::from_corpus");
  std::vector<char32_t> symbols(cps.begin(), cps.end());
  std::sort(symbols.begin(), symbols.end());
  symbols.erase(std::unique(symbols.begin(), symbols.end()), symbols.end());
  return CharTokenizer(std::move(symbols), std::move(unk_token));
}

CharTokenizer::CharTokenizer(std::vector<char32_t> symbols, std::optional<std::string> unk_token)
    : symbols_(std::move(symbols)), unk_token_(std::move(unk_token)) {
  if (symbols_.empty()) throw TokenizerError("CharTokenizer: the vocabulary is empty");
  if (unk_token_ && unk_token_->empty()) throw TokenizerError("CharTokenizer: the unk token is empty");
  if (unk_token_ && !is_valid_utf8(*unk_token_)) throw TokenizerError("CharTokenizer: unk token is not valid UTF-8");
  ascii_.fill(-1);
  for (std::size_t i = 0; i < symbols_.size(); ++i) {
    char32_t cp = symbols_[i];
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      throw TokenizerError("CharTokenizer: symbol " + std::to_string(i) + " (" + describe_code_point(cp) +
                           ") is not a Unicode scalar value");
    }
    bool fresh = cp < 128 ? ascii_[cp] < 0 : !other_.count(cp);
    if (!fresh) {
      throw TokenizerError("CharTokenizer: symbol " + std::to_string(i) + " (" + describe_code_point(cp) +
                           ") appears twice in the vocabulary");
    }
    if (unk_token_ && to_utf32(*unk_token_, "CharTokenizer") == std::u32string(1, cp)) {
      throw TokenizerError("CharTokenizer: the unk token '" + *unk_token_ + "' is also a symbol of the vocabulary");
    }
    if (cp < 128) {
      ascii_[cp] = static_cast<std::int32_t>(i);
    } else {
      other_.emplace(cp, static_cast<std::int32_t>(i));
    }
  }
}

std::vector<std::int32_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<std::int32_t> ids;
  ids.reserve(text.size());
  std::size_t pos = 0, index = 0;
  while (pos < text.size()) {
    Utf8Step step = decode_utf8_at(text, pos);
    if (step.cp == kInvalidCodePoint) to_utf32(text, "CharTokenizer::encode");  // throws with the byte offset
    std::int32_t id = -1;
    if (step.cp < 128) {
      id = ascii_[step.cp];
    } else if (auto it = other_.find(step.cp); it != other_.end()) {
      id = it->second;
    }
    if (id < 0) {
      if (!unk_token_) {
        throw TokenizerError("CharTokenizer::encode: character " + describe_code_point(step.cp) + " at byte offset " +
                             std::to_string(pos) + " (character " + std::to_string(index) +
                             ") is not in the vocabulary of " + std::to_string(symbols_.size()) +
                             " symbols; build the vocabulary from a corpus that contains it or configure an unk token");
      }
      id = static_cast<std::int32_t>(symbols_.size());
    }
    ids.push_back(id);
    pos += step.length;
    ++index;
  }
  return ids;
}

std::string CharTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string out;
  out.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    check_id(ids[i], i);
    if (static_cast<std::size_t>(ids[i]) == symbols_.size()) {
      out += *unk_token_;
    } else {
      append_utf8(symbols_[static_cast<std::size_t>(ids[i])], out);
    }
  }
  return out;
}

std::optional<std::int32_t> CharTokenizer::token_to_id(std::string_view token) const {
  if (unk_token_ && token == *unk_token_) return static_cast<std::int32_t>(symbols_.size());
  if (token.empty()) return std::nullopt;
  Utf8Step step = decode_utf8_at(token, 0);
  if (step.cp == kInvalidCodePoint || step.length != token.size()) return std::nullopt;
  if (step.cp < 128) {
    return ascii_[step.cp] < 0 ? std::nullopt : std::optional<std::int32_t>(ascii_[step.cp]);
  }
  auto it = other_.find(step.cp);
  return it == other_.end() ? std::nullopt : std::optional<std::int32_t>(it->second);
}

std::string CharTokenizer::id_to_token(std::int32_t id) const {
  check_id(id, 0);
  return decode(std::span<const std::int32_t>(&id, 1));
}

SpecialTokenIds CharTokenizer::special_token_ids() const {
  SpecialTokenIds ids;
  if (unk_token_) ids.unk = static_cast<std::int32_t>(symbols_.size());
  return ids;
}

void CharTokenizer::save(const std::string& path) const {
  nlohmann::json j;
  j["type"] = "char";
  nlohmann::json chars = nlohmann::json::array();
  for (char32_t cp : symbols_) {
    std::string s;
    append_utf8(cp, s);
    chars.push_back(std::move(s));
  }
  j["symbols"] = std::move(chars);
  j["unk_token"] = unk_token_ ? nlohmann::json(*unk_token_) : nlohmann::json(nullptr);
  detail::write_file_atomic(path, j.dump(1) + "\n");
}

namespace detail {

std::unique_ptr<Tokenizer> char_tokenizer_from_json(const nlohmann::json& j, const std::string& path) {
  const auto& chars = require_field(j, "symbols", nlohmann::json::value_t::array, path);
  std::vector<char32_t> symbols;
  symbols.reserve(chars.size());
  for (std::size_t i = 0; i < chars.size(); ++i) {
    const auto& c = chars[i];
    std::u32string cps = c.is_string() ? to_utf32(c.get_ref<const std::string&>(), path) : std::u32string();
    if (cps.size() != 1) {
      throw TokenizerError(path + ": symbols[" + std::to_string(i) + "] must be a string of exactly one character");
    }
    symbols.push_back(cps[0]);
  }
  std::optional<std::string> unk;
  auto it = j.find("unk_token");
  if (it != j.end() && !it->is_null()) {
    if (!it->is_string()) throw TokenizerError(path + ": field 'unk_token' must be a string or null");
    unk = it->get<std::string>();
  }
  try {
    return std::make_unique<CharTokenizer>(std::move(symbols), std::move(unk));
  } catch (const TokenizerError& e) {
    throw TokenizerError(path + ": " + e.what());
  }
}

}  // namespace detail
}  // namespace cairn::text
