// Text classification datasets: one example per line with its label, a file per label, and JSON Lines.
//
// Text is kept as the bytes of the file: nothing is decoded or normalised, because tokenizers (cairn::text) decide
// how to treat bytes. Old corpora such as rt-polarity (Pang & Lee 2005) are latin-1; latin1_to_utf8() converts.
//   auto ds = cairn::data::load_text_per_label({{"neg", "rt-polarity.neg"}, {"pos", "rt-polarity.pos"}});
//   cairn::data::convert_latin1_to_utf8(ds);
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cairn::data {

struct TextDataset {
  std::vector<std::string> texts;        // one per example, bytes as in the file (line ending removed)
  std::vector<int64_t> labels;           // class index per example
  std::vector<std::string> class_names;  // labels index into this
  std::vector<std::string> sources;      // per example: "file:line", for messages
  size_t size() const { return texts.size(); }
};

struct LabeledLinesOptions {
  char separator = '\t';    // between label and text
  bool label_first = true;  // "label<sep>text"; false: "text<sep>label" (split at the last separator)
  // Declared classes (in index order); a line with another label is an error. Empty: the distinct labels, sorted.
  std::vector<std::string> classes;
};

// Parses "label<TAB>text" lines (CRLF or LF; blank lines skipped). Throws DataError naming the line for a line
// without the separator, an empty label, or a label outside the declared classes.
TextDataset parse_labeled_lines(std::string_view text, const LabeledLinesOptions& options = {},
                                const std::string& name = "<memory>");
TextDataset load_labeled_lines(const std::filesystem::path& path, const LabeledLinesOptions& options = {});

// One file per class, every non-blank line an example: class i is files[i].first. Throws DataError if a file
// cannot be read or the list is empty.
TextDataset load_text_per_label(const std::vector<std::pair<std::string, std::filesystem::path>>& files);

// Latin-1 (ISO 8859-1) bytes to UTF-8: every byte >= 0x80 becomes two bytes. Total for any input.
std::string latin1_to_utf8(std::string_view latin1);
// True if the bytes are well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);
// Converts every text of the dataset that is not already valid UTF-8 from latin-1; returns how many changed.
size_t convert_latin1_to_utf8(TextDataset& dataset);

// JSON Lines: one JSON value per line; blank lines skipped. Throws DataError naming the line and the parser's
// column for invalid JSON.
std::vector<nlohmann::json> parse_jsonl(std::string_view text, const std::string& name = "<memory>");
std::vector<nlohmann::json> load_jsonl(const std::filesystem::path& path);
// JSON Lines of objects with a string `text_key` and a label under `label_key` (all strings -> sorted class
// names; all non-negative integers -> class indices). Throws DataError naming the line for a missing key, a
// non-object line, or mixed label types.
TextDataset parse_jsonl_labeled(std::string_view text, const std::string& text_key = "text",
                                const std::string& label_key = "label", const std::string& name = "<memory>");
TextDataset load_jsonl_labeled(const std::filesystem::path& path, const std::string& text_key = "text",
                               const std::string& label_key = "label");

}  // namespace cairn::data
