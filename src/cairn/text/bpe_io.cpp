// Reading GPT-2's encoder.json + vocab.bpe and Cairn's saved {"type": "bpe"} files.
#include <algorithm>
#include <unordered_set>

#include "cairn/text/bpe_tokenizer.h"
#include "cairn/text/detail.h"

namespace cairn::text {
namespace {

// "a b" -> {"a", "b"}; false unless there is exactly one space with a non-empty token on each side.
bool split_merge(std::string_view line, std::pair<std::string, std::string>& out) {
  std::size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= line.size() ||
      line.find(' ', space + 1) != std::string_view::npos) {
    return false;
  }
  out = {std::string(line.substr(0, space)), std::string(line.substr(space + 1))};
  return true;
}

}  // namespace

BpeTokenizer BpeTokenizer::from_gpt2_files(const std::string& encoder_json_path, const std::string& vocab_bpe_path) {
  nlohmann::json encoder = detail::read_json_file(encoder_json_path, "GPT-2 encoder.json");
  if (!encoder.is_object() || encoder.empty()) {
    throw TokenizerError(encoder_json_path + ":1: expected a non-empty JSON object mapping tokens to ids");
  }
  std::vector<std::string> vocab(encoder.size());
  std::vector<bool> seen(encoder.size(), false);
  for (auto it = encoder.begin(); it != encoder.end(); ++it) {
    if (!it.value().is_number_integer()) {
      throw TokenizerError(encoder_json_path + ": token '" + it.key() + "' maps to " + it.value().dump() +
                           ", expected an integer id");
    }
    long long id = it.value().get<long long>();
    if (id < 0 || static_cast<std::size_t>(id) >= vocab.size() || seen[static_cast<std::size_t>(id)]) {
      throw TokenizerError(encoder_json_path + ": token '" + it.key() + "' has id " + std::to_string(id) +
                           (id >= 0 && static_cast<std::size_t>(id) < vocab.size() ? " already used by another token"
                                                                                    : " outside [0, " +
                                                                                          std::to_string(vocab.size()) + ")") +
                           "; ids must be 0..N-1, each once");
    }
    seen[static_cast<std::size_t>(id)] = true;
    vocab[static_cast<std::size_t>(id)] = it.key();
  }

  std::unordered_set<std::string_view> known(vocab.begin(), vocab.end());
  std::unordered_set<std::string> made;  // single bytes, then each merge's result
  for (int b = 0; b < 256; ++b) made.insert(bytes_to_unicode(std::string(1, static_cast<char>(b))));
  std::string text = detail::read_file(vocab_bpe_path, "GPT-2 vocab.bpe");
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && line.starts_with("#version")) continue;
    const std::string where = vocab_bpe_path + ":" + std::to_string(line_no) + ": ";
    if (line.empty()) {
      if (pos >= text.size()) break;  // the trailing newline
      throw TokenizerError(where + "empty line inside the merges; each line must be two tokens separated by one space");
    }
    std::pair<std::string, std::string> merge;
    if (!split_merge(line, merge)) {
      throw TokenizerError(where + "expected two tokens separated by one space, found '" +
                           std::string(line.substr(0, 80)) + "'");
    }
    for (const std::string& part : {merge.first, merge.second, merge.first + merge.second}) {
      if (!known.count(part)) {
        throw TokenizerError(where + "merge '" + std::string(line) + "': '" + part + "' is not in " +
                             encoder_json_path + "; the two files do not belong together");
      }
    }
    for (const std::string& part : {merge.first, merge.second}) {
      if (!made.count(part)) {
        throw TokenizerError(where + "merge '" + std::string(line) + "': '" + part +
                             "' is neither a single byte nor made by an earlier line; the merges are out of order");
      }
    }
    made.insert(merge.first + merge.second);
    merges.push_back(std::move(merge));
  }

  std::vector<std::string> special;
  if (encoder.contains("<|endoftext|>")) special.push_back("<|endoftext|>");
  return BpeTokenizer(std::move(vocab), std::move(merges), std::move(special), encoder_json_path);
}

namespace detail {

std::unique_ptr<Tokenizer> bpe_tokenizer_from_json(const nlohmann::json& j, const std::string& path) {
  using vt = nlohmann::json::value_t;
  const auto& vocab_json = require_field(j, "vocab", vt::array, path);
  const auto& merges_json = require_field(j, "merges", vt::array, path);
  const auto& special_json = require_field(j, "special_tokens", vt::array, path);
  auto strings = [&](const nlohmann::json& array, const char* field) {
    std::vector<std::string> out;
    out.reserve(array.size());
    for (std::size_t i = 0; i < array.size(); ++i) {
      if (!array[i].is_string()) {
        throw TokenizerError(path + ": " + field + "[" + std::to_string(i) + "] is " + array[i].type_name() +
                             ", expected a string");
      }
      out.push_back(array[i].get<std::string>());
    }
    return out;
  };
  std::vector<std::string> vocab = strings(vocab_json, "vocab");
  std::vector<std::string> lines = strings(merges_json, "merges");
  std::vector<std::pair<std::string, std::string>> merges(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!split_merge(lines[i], merges[i])) {
      throw TokenizerError(path + ": merges[" + std::to_string(i) + "] = '" + lines[i] +
                           "' is not two tokens separated by one space");
    }
  }
  return std::make_unique<BpeTokenizer>(std::move(vocab), std::move(merges), strings(special_json, "special_tokens"),
                                        path);
}

}  // namespace detail
}  // namespace cairn::text
