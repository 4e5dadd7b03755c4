#include "cairn/text/wordpiece_tokenizer.h"

#include "cairn/text/detail.h"
#include "cairn/text/unicode.h"
#include "cairn/text/utf8.h"

namespace cairn::text {
namespace {

// BERT's _is_whitespace: space, \t, \n, \r and category Zs.
bool is_bert_whitespace(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || unicode::is_space_separator(cp);
}

// BERT's _is_control: categories C* except \t, \n, \r (which are whitespace).
bool is_bert_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return unicode::is_other_category(cp);
}

// BERT's _is_punctuation: every non-letter/number ASCII symbol, and Unicode P*.
bool is_bert_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return unicode::is_punctuation_category(cp);
}

// BERT's _is_chinese_char: the CJK Unified Ideographs blocks (not Hiragana, Katakana or Hangul).
bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

std::vector<std::u32string> split_python_whitespace(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && unicode::is_python_whitespace(text[i])) ++i;
    std::size_t j = i;
    while (j < text.size() && !unicode::is_python_whitespace(text[j])) ++j;
    if (j > i) words.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return words;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const std::string& vocab_txt_path, WordPieceOptions options) {
  std::string text = detail::read_file(vocab_txt_path, "WordPiece vocab.txt");
  std::vector<std::string> vocab;
  std::unordered_map<std::string_view, std::size_t> first_line;
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = vocab_txt_path + ":" + std::to_string(line_no) + ": ";
    if (line.empty()) {
      throw TokenizerError(where + "empty line; vocab.txt must hold one token per line (id = line number - 1)");
    }
    if (std::size_t bad = first_invalid_utf8(line); bad != line.size()) {
      throw TokenizerError(where + "token is not valid UTF-8 (byte " + std::to_string(bad) + " of the line)");
    }
    auto [it, fresh] = first_line.emplace(line, line_no);
    if (!fresh) {
      throw TokenizerError(where + "token '" + std::string(line) + "' already appears on line " +
                           std::to_string(it->second));
    }
    vocab.emplace_back(line);
  }
  if (vocab.empty()) throw TokenizerError(vocab_txt_path + ": the vocabulary file is empty");
  return WordPieceTokenizer(std::move(vocab), std::move(options), vocab_txt_path);
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options,
                                       const std::string& source)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  const std::string where = source.empty() ? "WordPieceTokenizer: " : source + ": ";
  ids_.reserve(vocab_.size());
  for (std::size_t i = 0; i < vocab_.size(); ++i) {
    if (vocab_[i].empty() || !is_valid_utf8(vocab_[i])) {
      throw TokenizerError(where + "token " + std::to_string(i) + " is empty or not valid UTF-8");
    }
    if (!ids_.emplace(vocab_[i], static_cast<std::int32_t>(i)).second) {
      throw TokenizerError(where + "token '" + vocab_[i] + "' appears twice (id " + std::to_string(i) + ")");
    }
  }
  auto unk = ids_.find(options_.unk_token);
  if (unk == ids_.end()) {
    throw TokenizerError(where + "the unknown token '" + options_.unk_token +
                         "' is not in the vocabulary; add it or set WordPieceOptions::unk_token");
  }
  unk_id_ = unk->second;
  if (options_.max_input_chars_per_word == 0) throw TokenizerError(where + "max_input_chars_per_word must be > 0");
  if (!is_valid_utf8(options_.continuing_prefix)) throw TokenizerError(where + "continuing_prefix is not valid UTF-8");
}

std::vector<std::u32string> WordPieceTokenizer::basic_words(std::string_view text) const {
  std::u32string cps = to_utf32(text, "WordPieceTokenizer::encode");
  std::u32string cleaned;
  cleaned.reserve(cps.size() + cps.size() / 4);
  for (char32_t cp : cps) {
    if (cp == 0 || cp == 0xFFFD || is_bert_control(cp)) continue;
    if (is_bert_whitespace(cp)) {
      cleaned.push_back(' ');
    } else if (options_.tokenize_chinese_chars && is_cjk_ideograph(cp)) {
      cleaned.push_back(' ');
      cleaned.push_back(cp);
      cleaned.push_back(' ');
    } else {
      cleaned.push_back(cp);
    }
  }
  std::vector<std::u32string> words;
  for (std::u32string& token : split_python_whitespace(cleaned)) {
    if (options_.lower_case) {
      std::u32string decomposed = unicode::nfd(unicode::lower(token));
      token.clear();
      for (char32_t cp : decomposed) {
        if (!unicode::is_nonspacing_mark(cp)) token.push_back(cp);
      }
    }
    // _run_split_on_punc: each punctuation character is a word of its own.
    std::size_t run_start = 0;
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (is_bert_punctuation(token[i])) {
        if (i > run_start) words.push_back(token.substr(run_start, i - run_start));
        words.push_back(token.substr(i, 1));
        run_start = i + 1;
      }
    }
    if (token.size() > run_start) words.push_back(token.substr(run_start));
  }
  return words;
}

void WordPieceTokenizer::wordpiece(const std::u32string& word, std::vector<std::int32_t>& out) const {
  if (word.size() > options_.max_input_chars_per_word) {
    out.push_back(unk_id_);
    return;
  }
  // Byte offset of each code point in the UTF-8 spelling, so candidates are substrings.
  std::string utf8;
  std::vector<std::size_t> offset;
  offset.reserve(word.size() + 1);
  for (char32_t cp : word) {
    offset.push_back(utf8.size());
    append_utf8(cp, utf8);
  }
  offset.push_back(utf8.size());
  const std::size_t before = out.size();
  std::string candidate;
  std::size_t start = 0;
  while (start < word.size()) {
    std::size_t end = word.size();
    std::int32_t found = -1;
    while (start < end) {
      candidate.clear();
      if (start > 0) candidate = options_.continuing_prefix;
      candidate.append(utf8, offset[start], offset[end] - offset[start]);
      if (auto it = ids_.find(candidate); it != ids_.end()) {
        found = it->second;
        break;
      }
      --end;
    }
    if (found < 0) {  // no cover: the whole word is unknown
      out.resize(before);
      out.push_back(unk_id_);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

std::vector<std::int32_t> WordPieceTokenizer::encode(std::string_view text) const {
  std::vector<std::int32_t> ids;
  for (const std::u32string& word : basic_words(text)) wordpiece(word, ids);
  return ids;
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (const std::u32string& word : basic_words(text)) out.push_back(to_utf8(word));
  return out;
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (std::int32_t id : encode(text)) out.push_back(vocab_[static_cast<std::size_t>(id)]);
  return out;
}

std::string WordPieceTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::optional<std::int32_t> pad = special_token_ids().pad;
  const std::string& prefix = options_.continuing_prefix;
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    check_id(ids[i], i);
    if (pad && ids[i] == *pad) continue;
    const std::string& token = vocab_[static_cast<std::size_t>(ids[i])];
    if (!out.empty() && token.size() > prefix.size() && token.starts_with(prefix)) {
      out.append(token, prefix.size());
    } else {
      if (!out.empty()) out.push_back(' ');
      out += token;
    }
  }
  return out;
}

std::optional<std::int32_t> WordPieceTokenizer::token_to_id(std::string_view token) const {
  auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::string WordPieceTokenizer::id_to_token(std::int32_t id) const {
  check_id(id, 0);
  return vocab_[static_cast<std::size_t>(id)];
}

SpecialTokenIds WordPieceTokenizer::special_token_ids() const {
  SpecialTokenIds s;
  s.pad = token_to_id("[PAD]");
  s.unk = unk_id_;
  s.cls = token_to_id("[CLS]");
  s.sep = token_to_id("[SEP]");
  s.mask = token_to_id("[MASK]");
  return s;
}

void WordPieceTokenizer::save(const std::string& path) const {
  nlohmann::json j;
  j["type"] = "wordpiece";
  j["vocab"] = vocab_;
  j["lower_case"] = options_.lower_case;
  j["tokenize_chinese_chars"] = options_.tokenize_chinese_chars;
  j["unk_token"] = options_.unk_token;
  j["continuing_prefix"] = options_.continuing_prefix;
  j["max_input_chars_per_word"] = options_.max_input_chars_per_word;
  detail::write_file_atomic(path, j.dump() + "\n");
}

namespace detail {

std::unique_ptr<Tokenizer> wordpiece_tokenizer_from_json(const nlohmann::json& j, const std::string& path) {
  using vt = nlohmann::json::value_t;
  const auto& vocab_json = require_field(j, "vocab", vt::array, path);
  std::vector<std::string> vocab;
  vocab.reserve(vocab_json.size());
  for (std::size_t i = 0; i < vocab_json.size(); ++i) {
    if (!vocab_json[i].is_string()) {
      throw TokenizerError(path + ": vocab[" + std::to_string(i) + "] is " + vocab_json[i].type_name() +
                           ", expected a string");
    }
    vocab.push_back(vocab_json[i].get<std::string>());
  }
  WordPieceOptions o;
  o.lower_case = require_field(j, "lower_case", vt::boolean, path).get<bool>();
  o.tokenize_chinese_chars = require_field(j, "tokenize_chinese_chars", vt::boolean, path).get<bool>();
  o.unk_token = require_field(j, "unk_token", vt::string, path).get<std::string>();
  o.continuing_prefix = require_field(j, "continuing_prefix", vt::string, path).get<std::string>();
  const auto& max_chars = require_field(j, "max_input_chars_per_word", vt::number_integer, path);
  if (max_chars.get<long long>() <= 0) throw TokenizerError(path + ": max_input_chars_per_word must be > 0");
  o.max_input_chars_per_word = max_chars.get<std::size_t>();
  return std::make_unique<WordPieceTokenizer>(std::move(vocab), std::move(o), path);
}

}  // namespace detail
}  // namespace cairn::text
