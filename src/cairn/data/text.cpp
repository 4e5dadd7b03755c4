#include "cairn/data/text.h"

#include <algorithm>
#include <map>

#include "cairn/data/error.h"
#include "cairn/data/file_util.h"

namespace cairn::data {

namespace {

// Calls fn(line_number, line) for every line (LF or CRLF endings removed).
template <class Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  int64_t line = 1;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view l = text.substr(pos, end - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    fn(line, l);
    ++line;
    pos = end + 1;
  }
}

bool blank(std::string_view l) {
  return std::all_of(l.begin(), l.end(), [](char c) { return c == ' ' || c == '\t'; });
}

std::string file_text(const std::filesystem::path& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

// Turns label strings into indices: the declared classes, or the distinct labels sorted (byte order).
void assign_classes(TextDataset& ds, const std::vector<std::string>& raw, const std::vector<std::string>& declared,
                    const std::string& name) {
  std::map<std::string, int64_t> index;
  if (!declared.empty()) {
    ds.class_names = declared;
  } else {
    std::vector<std::string> names(raw.begin(), raw.end());
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    ds.class_names = names;
  }
  for (size_t k = 0; k < ds.class_names.size(); ++k) index.emplace(ds.class_names[k], int64_t(k));
  ds.labels.resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    auto it = index.find(raw[i]);
    if (it == index.end()) {
      throw DataError::in_file(name, ds.sources[i] + ": label " + quote_for_message(raw[i]) +
                                         " is not one of the declared classes. Add it to the classes or fix the line.");
    }
    ds.labels[i] = it->second;
  }
}

}  // namespace

TextDataset parse_labeled_lines(std::string_view text, const LabeledLinesOptions& opt, const std::string& name) {
  TextDataset ds;
  std::vector<std::string> raw_labels;
  for_each_line(text, [&](int64_t line, std::string_view l) {
    if (blank(l)) return;
    size_t cut = opt.label_first ? l.find(opt.separator) : l.rfind(opt.separator);
    if (cut == std::string_view::npos) {
      throw DataError::at_line(name, line, std::string("no separator ") + quote_for_message(std::string(1, opt.separator)) +
                                               " between label and text in " + quote_for_message(l) +
                                               ". Each line must be label<separator>text.");
    }
    std::string_view label = opt.label_first ? l.substr(0, cut) : l.substr(cut + 1);
    std::string_view body = opt.label_first ? l.substr(cut + 1) : l.substr(0, cut);
    if (label.empty()) throw DataError::at_line(name, line, "empty label. Each line must be label<separator>text.");
    raw_labels.emplace_back(label);
    ds.texts.emplace_back(body);
    ds.sources.push_back(name + ":" + std::to_string(line));
  });
  assign_classes(ds, raw_labels, opt.classes, name);
  return ds;
}

TextDataset load_labeled_lines(const std::filesystem::path& path, const LabeledLinesOptions& options) {
  return parse_labeled_lines(file_text(path), options, path.string());
}

TextDataset load_text_per_label(const std::vector<std::pair<std::string, std::filesystem::path>>& files) {
  if (files.empty()) throw DataError::in_file("", "load_text_per_label: no files given; pass {class name, path} pairs.");
  TextDataset ds;
  for (size_t k = 0; k < files.size(); ++k) {
    ds.class_names.push_back(files[k].first);
    const std::string name = files[k].second.string();
    std::string text = file_text(files[k].second);
    for_each_line(text, [&](int64_t line, std::string_view l) {
      if (blank(l)) return;
      ds.texts.emplace_back(l);
      ds.labels.push_back(int64_t(k));
      ds.sources.push_back(name + ":" + std::to_string(line));
    });
  }
  return ds;
}

std::string latin1_to_utf8(std::string_view latin1) {
  std::string out;
  out.reserve(latin1.size() + latin1.size() / 8);
  for (char ch : latin1) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(char(0xC0 | (c >> 6)));
      out.push_back(char(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  auto cont = [&](size_t k) { return k < n && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80; };
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (!cont(i + 1)) return false;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (!cont(i + 1) || !cont(i + 2)) return false;
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) return false;  // overlong
      if (c == 0xED && c1 >= 0xA0) return false;  // UTF-16 surrogates
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return false;
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xF0 && c1 < 0x90) return false;  // overlong
      if (c == 0xF4 && c1 >= 0x90) return false;  // above U+10FFFF
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

size_t convert_latin1_to_utf8(TextDataset& dataset) {
  size_t changed = 0;
  for (std::string& t : dataset.texts) {
    if (!is_valid_utf8(t)) {
      t = latin1_to_utf8(t);
      ++changed;
    }
  }
  return changed;
}

std::vector<nlohmann::json> parse_jsonl(std::string_view text, const std::string& name) {
  std::vector<nlohmann::json> out;
  for_each_line(text, [&](int64_t line, std::string_view l) {
    if (blank(l)) return;
    try {
      out.push_back(nlohmann::json::parse(l.begin(), l.end()));
    } catch (const nlohmann::json::exception& e) {
      throw DataError::at_line(name, line, std::string("invalid JSON (") + e.what() +
                                               "). Each line of a JSON Lines file must be one complete JSON value.");
    }
  });
  return out;
}

std::vector<nlohmann::json> load_jsonl(const std::filesystem::path& path) {
  return parse_jsonl(file_text(path), path.string());
}

TextDataset parse_jsonl_labeled(std::string_view text, const std::string& text_key, const std::string& label_key,
                                const std::string& name) {
  TextDataset ds;
  std::vector<std::string> raw_labels;
  bool any_string = false, any_int = false;
  std::vector<int64_t> int_labels;
  for_each_line(text, [&](int64_t line, std::string_view l) {
    if (blank(l)) return;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(l.begin(), l.end());
    } catch (const nlohmann::json::exception& e) {
      throw DataError::at_line(name, line, std::string("invalid JSON (") + e.what() + ").");
    }
    if (!j.is_object()) throw DataError::at_line(name, line, "expected a JSON object with \"" + text_key + "\" and \"" + label_key + "\".");
    auto t = j.find(text_key);
    auto lab = j.find(label_key);
    if (t == j.end() || !t->is_string()) {
      throw DataError::at_line(name, line, "missing string field \"" + text_key + "\". Pass the right text_key.");
    }
    if (lab == j.end()) throw DataError::at_line(name, line, "missing field \"" + label_key + "\". Pass the right label_key.");
    if (lab->is_string()) {
      any_string = true;
      raw_labels.push_back(lab->get<std::string>());
    } else if (lab->is_number_integer() && lab->get<int64_t>() >= 0 && lab->get<int64_t>() < (int64_t(1) << 31)) {
      any_int = true;
      int_labels.push_back(lab->get<int64_t>());
    } else {
      throw DataError::at_line(name, line, "label \"" + label_key + "\" must be a string or a non-negative integer, got " +
                                               quote_for_message(lab->dump()) + ".");
    }
    if (any_string && any_int) {
      throw DataError::at_line(name, line, "labels mix strings and integers; use one kind for the whole file.");
    }
    ds.texts.push_back(t->get<std::string>());
    ds.sources.push_back(name + ":" + std::to_string(line));
  });
  if (any_int) {
    ds.labels = int_labels;
    int64_t k = ds.labels.empty() ? 0 : *std::max_element(ds.labels.begin(), ds.labels.end()) + 1;
    for (int64_t i = 0; i < k; ++i) ds.class_names.push_back(std::to_string(i));
  } else {
    assign_classes(ds, raw_labels, {}, name);
  }
  return ds;
}

TextDataset load_jsonl_labeled(const std::filesystem::path& path, const std::string& text_key,
                               const std::string& label_key) {
  return parse_jsonl_labeled(file_text(path), text_key, label_key, path.string());
}

}  // namespace cairn::data
