#include "cairn/cli/text_encoder.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "cairn/io/atomic_file.h"
#include "cairn/text/bpe_tokenizer.h"
#include "cairn/text/char_tokenizer.h"
#include "cairn/text/wordpiece_tokenizer.h"

namespace cairn::cli {
namespace {

using nlohmann::json;

// The text layer saves and loads tokenizers as JSON files; a model file embeds that JSON, so go through a
// private temporary file.
std::filesystem::path temp_json_path() {
  static std::atomic<int> n{0};
  return std::filesystem::temp_directory_path() /
         ("cairn_tok_" + std::to_string(::getpid()) + "_" + std::to_string(n++) + ".json");
}

json tokenizer_json(const text::Tokenizer& t) {
  auto p = temp_json_path();
  t.save(p.string());
  json j = json::parse(io::read_file(p.string()));
  std::filesystem::remove(p);
  return j;
}

std::shared_ptr<const text::Tokenizer> tokenizer_from_json(const json& j) {
  auto p = temp_json_path();
  io::write_file_atomic(p.string(), j.dump());
  std::shared_ptr<const text::Tokenizer> t;
  try {
    t = text::load_tokenizer(p.string());
  } catch (...) {
    std::filesystem::remove(p);
    throw;
  }
  std::filesystem::remove(p);
  return t;
}

}  // namespace

std::vector<std::string> split_words(std::string_view s, bool lowercase) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    while (!cur.empty() && cur.back() == '\'') cur.pop_back();
    size_t lead = 0;
    while (lead < cur.size() && cur[lead] == '\'') ++lead;
    if (lead < cur.size()) out.push_back(cur.substr(lead));
    cur.clear();
  };
  for (char ch : s) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || u >= 0x80 || ch == '\'') cur += lowercase && u < 0x80 ? static_cast<char>(std::tolower(u)) : ch;
    else flush();
  }
  flush();
  return out;
}

TextEncoder::TextEncoder() = default;
TextEncoder::~TextEncoder() = default;
TextEncoder::TextEncoder(TextEncoder&&) noexcept = default;
TextEncoder& TextEncoder::operator=(TextEncoder&&) noexcept = default;

TextEncoder TextEncoder::fit(const Config& c, const std::string& name, const std::vector<std::string>& train) {
  TextEncoder e;
  e.type_ = name;
  if (name == "word") {
    c.check_keys({"type", "vocab_size", "min_count", "lowercase"});
    const int64_t max_tokens = c.get<int64_t>("vocab_size", 20000), min_count = c.get<int64_t>("min_count", 1);
    if (max_tokens < 3) c.fail("vocab_size must be at least 3 (padding, unknown, one word)", "vocab_size");
    e.lowercase_ = c.get<bool>("lowercase", true);
    std::unordered_map<std::string, int64_t> counts;
    for (const auto& t : train)
      for (auto& w : split_words(t, e.lowercase_)) counts[w]++;
    std::vector<std::pair<std::string, int64_t>> v(counts.begin(), counts.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    e.words_ = {"", "[UNK]"};
    for (const auto& [w, n] : v) {
      if (static_cast<int64_t>(e.words_.size()) >= max_tokens || n < min_count) break;
      e.words_.push_back(w);
    }
  } else if (name == "char") {
    c.check_keys({"type"});
    std::string corpus;
    for (const auto& t : train) corpus += t;
    if (corpus.empty()) c.fail("the training texts are empty: nothing to build a character vocabulary from");
    e.tok_ = std::make_shared<text::CharTokenizer>(text::CharTokenizer::from_corpus(corpus, "[UNK]"));
    e.offset_ = 1;
  } else if (name == "wordpiece") {
    c.check_keys({"type", "vocab", "lowercase"});
    text::WordPieceOptions o;
    o.lower_case = c.get<bool>("lowercase", true);
    e.tok_ = std::make_shared<text::WordPieceTokenizer>(text::WordPieceTokenizer::from_vocab_file(c.require<std::string>("vocab"), o));
    e.offset_ = e.tok_->token_to_id("[PAD]") == std::optional<int32_t>(0) ? 0 : 1;
  } else if (name == "bpe") {
    c.check_keys({"type", "vocab", "merges", "vocab_size"});
    if (c.has("vocab") || c.has("merges")) {
      e.tok_ = std::make_shared<text::BpeTokenizer>(
          text::BpeTokenizer::from_gpt2_files(c.require<std::string>("vocab"), c.require<std::string>("merges")));
    } else if (c.has("vocab_size")) {
      std::string corpus;
      for (const auto& t : train) corpus += t + "\n";
      e.tok_ = std::make_shared<text::BpeTokenizer>(text::train_bpe(corpus, c.get<size_t>("vocab_size", 1000)));
    } else {
      c.fail("bpe needs vocab and merges (GPT-2's encoder.json and vocab.bpe), or vocab_size to train one on the training texts");
    }
    e.offset_ = 1;
  } else {
    std::string hint = closest(name, {"word", "char", "wordpiece", "bpe"});
    c.fail("unknown tokenizer '" + name + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
           "; valid tokenizers: word, char, wordpiece, bpe");
  }
  if (e.tok_) e.saved_ = tokenizer_json(*e.tok_);
  TextEncoder out = from_json(e.to_json());
  out.learned_ = name == "word" || name == "char" || (name == "bpe" && !c.has("vocab"));
  return out;
}

json TextEncoder::to_json() const {
  json j = {{"type", type_}};
  if (type_ == "word") {
    j["lowercase"] = lowercase_;
    j["vocab"] = json(std::vector<std::string>(words_.begin() + 2, words_.end()));
  } else {
    j["tokenizer"] = saved_;
    j["offset"] = offset_;
  }
  return j;
}

TextEncoder TextEncoder::from_json(const json& j) {
  TextEncoder e;
  e.type_ = j.at("type").get<std::string>();
  if (e.type_ == "word") {
    e.lowercase_ = j.value("lowercase", true);
    e.words_ = {"", "[UNK]"};
    for (const auto& w : j.at("vocab")) e.words_.push_back(w.get<std::string>());
    for (size_t i = 2; i < e.words_.size(); ++i) e.word_ids_[e.words_[i]] = static_cast<int64_t>(i);
    e.unk_id_ = 1;
    e.vocab_size_ = static_cast<int64_t>(e.words_.size());
  } else {
    e.saved_ = j.at("tokenizer");
    e.offset_ = j.value("offset", int64_t{0});
    e.tok_ = tokenizer_from_json(e.saved_);
    auto unk = e.tok_->special_token_ids().unk;
    e.unk_id_ = unk ? *unk + e.offset_ : -1;
    e.vocab_size_ = static_cast<int64_t>(e.tok_->vocab_size()) + e.offset_;
  }
  return e;
}

std::vector<int64_t> TextEncoder::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  if (type_ == "word") {
    for (const auto& w : split_words(text, lowercase_)) {
      auto it = word_ids_.find(w);
      ids.push_back(it == word_ids_.end() ? 1 : it->second);
    }
    return ids;
  }
  for (int32_t id : tok_->encode(text)) ids.push_back(id + offset_);
  return ids;
}

std::vector<int64_t> TextEncoder::encode_padded(std::string_view text, int64_t length, bool* truncated) const {
  std::vector<int64_t> ids = encode(text);
  if (truncated) *truncated = static_cast<int64_t>(ids.size()) > length;
  ids.resize(static_cast<size_t>(length), 0);
  return ids;
}

std::string TextEncoder::describe() const {
  std::string s = type_ + " tokenizer, " + std::to_string(vocab_size_) + " ids (0 = padding";
  if (unk_id_ >= 0) s += ", " + std::to_string(unk_id_) + " = unknown";
  return s + ")";
}

}  // namespace cairn::cli
