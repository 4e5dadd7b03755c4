// The `text` and `jsonl` kinds of the `data:` section: labeled lines, a file per label, or JSON Lines, converted
// to UTF-8, split, tokenized (vocabulary fitted on the training split) and padded to int64 (N, T) ids.
#include <algorithm>
#include <filesystem>

#include "cairn/cli/datasets_detail.h"
#include "cairn/cli/text_encoder.h"
#include "cairn/core/ops/ops.h"
#include "cairn/data/error.h"
#include "cairn/data/text.h"
#include "cairn/io/atomic_file.h"

namespace cairn::cli::detail_data {
namespace {

using nlohmann::json;

// Makes every text UTF-8: "auto" converts texts that are not valid UTF-8 from latin-1, "latin-1" converts all,
// "utf-8" requires valid UTF-8. Returns how many texts changed.
size_t to_utf8(std::vector<std::string>& texts, const std::vector<std::string>* sources, const std::string& encoding) {
  size_t changed = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const bool valid = data::is_valid_utf8(texts[i]);
    if (encoding == "utf-8" && !valid)
      throw data::DataError::in_file(sources ? sources->at(i) : "", "text is not valid UTF-8; set encoding: latin-1 (or auto)");
    if (encoding == "latin-1" || (encoding == "auto" && !valid)) {
      texts[i] = data::latin1_to_utf8(texts[i]);
      ++changed;
    }
  }
  return changed;
}

// Reads the examples named by `key` ("path" or "test_path"; for per-label files "files" / "test_files").
data::TextDataset read_source(const Config& d, const std::string& kind, bool test, const std::vector<std::string>& classes) {
  const std::string files_key = test ? "test_files" : "files", path_key = test ? "test_path" : "path";
  data::TextDataset ds;
  const std::string format = kind == "jsonl" ? "jsonl" : d.get<std::string>("format", "lines");
  if (d.has(files_key)) {
    if (d.has(path_key)) d.fail("give either " + path_key + " or " + files_key + ", not both", files_key);
    Config f = d.section(files_key);
    std::vector<std::pair<std::string, std::filesystem::path>> list;
    for (const std::string& label : f.keys()) list.emplace_back(label, f.require<std::string>(label));
    if (list.empty()) d.fail(files_key + " needs at least one 'label: file' entry", files_key);
    ds = data::load_text_per_label(list);
  } else if (format == "jsonl") {
    ds = data::load_jsonl_labeled(d.require<std::string>(path_key), d.get<std::string>("text_key", "text"),
                                  d.get<std::string>("label_key", "label"));
  } else if (format == "lines") {
    data::LabeledLinesOptions o;
    const std::string sep = d.get<std::string>("separator", "\t");
    if (sep.size() != 1) d.fail("separator must be one character (default: a tab)", "separator");
    o.separator = sep[0];
    o.label_first = d.get<bool>("label_first", true);
    o.classes = classes;
    ds = data::load_labeled_lines(d.require<std::string>(path_key), o);
  } else {
    d.fail("format must be lines (label<TAB>text) or jsonl; got '" + format + "'", "format");
  }
  if (classes.empty() || ds.class_names == classes) return ds;
  // Map the test file's classes onto the training ones, by name.
  std::vector<int64_t> to(ds.class_names.size());
  for (size_t k = 0; k < ds.class_names.size(); ++k) {
    auto it = std::find(classes.begin(), classes.end(), ds.class_names[k]);
    if (it == classes.end())
      d.fail("class '" + ds.class_names[k] + "' of the test data is not a training class", test ? path_key : files_key);
    to[k] = it - classes.begin();
  }
  for (auto& l : ds.labels) l = to[static_cast<size_t>(l)];
  ds.class_names = classes;
  return ds;
}

struct Encoded {
  Tensor x, y;
  int64_t unknown = 0, tokens = 0, truncated = 0;
};

Encoded encode_all(const TextEncoder& enc, const data::TextDataset& ds, const std::vector<int64_t>& idx, int64_t T) {
  Encoded e;
  std::vector<int64_t> ids, labels;
  ids.reserve(idx.size() * static_cast<size_t>(T));
  for (int64_t i : idx) {
    auto raw = enc.encode(ds.texts[i]);
    e.tokens += static_cast<int64_t>(raw.size());
    if (enc.unknown_id() >= 0) e.unknown += std::count(raw.begin(), raw.end(), enc.unknown_id());
    if (static_cast<int64_t>(raw.size()) > T) e.truncated++;
    raw.resize(static_cast<size_t>(T), 0);
    ids.insert(ids.end(), raw.begin(), raw.end());
    labels.push_back(ds.labels[i]);
  }
  if (idx.empty()) return e;
  e.x = from_vector(ids, Shape{static_cast<int64_t>(idx.size()), T});
  e.y = from_vector(labels, Shape{static_cast<int64_t>(idx.size())});
  return e;
}

std::string encoded_line(const std::string& name, const Encoded& e, int64_t T) {
  if (!e.x.defined()) return "";
  char buf[256];
  std::snprintf(buf, sizeof buf, "  %s: %lld examples, %.1f tokens on average, %.2f%% unknown, %lld truncated to %lld\n",
                name.c_str(), (long long)e.x.size(0), double(e.tokens) / double(e.x.size(0)),
                e.tokens ? 100.0 * double(e.unknown) / double(e.tokens) : 0.0, (long long)e.truncated, (long long)T);
  return buf;
}

}  // namespace

void load_text_kind(const Config& d, const std::string& kind, const json* fitted, const SplitSpec& split, LoadedData& out) {
  if (kind == "jsonl")
    check_kind_keys(d, kind, {"path", "test_path", "text_key", "label_key", "encoding", "tokenizer", "max_length"});
  else
    check_kind_keys(d, kind, {"path", "test_path", "files", "test_files", "format", "separator", "label_first", "classes",
                              "text_key", "label_key", "encoding", "tokenizer", "max_length"});
  const std::string encoding = fitted ? fitted->value("encoding", "auto") : d.get<std::string>("encoding", "auto");
  if (encoding != "auto" && encoding != "utf-8" && encoding != "latin-1")
    d.fail("encoding must be auto, utf-8 or latin-1; got '" + encoding + "'", "encoding");
  const int64_t T = fitted ? fitted->at("max_length").get<int64_t>() : d.get<int64_t>("max_length", 64);
  if (T <= 0) d.fail("max_length must be positive (ids per example, padded or truncated)", "max_length");

  std::vector<std::string> classes = fitted ? fitted->value("class_names", std::vector<std::string>{})
                                            : d.get<std::vector<std::string>>("classes", {});
  data::TextDataset ds = read_source(d, kind, false, classes);
  size_t converted = to_utf8(ds.texts, &ds.sources, encoding);
  const std::string where = d.has("files") ? "per-label files" : d.require<std::string>("path");
  out.report += "read " + where + ": " + std::to_string(ds.size()) + " examples, " + std::to_string(ds.class_names.size()) +
                " classes" + (converted ? ", " + std::to_string(converted) + " converted from latin-1 to UTF-8" : "") + "\n";
  std::vector<int64_t> keep;
  if (const int64_t limit = d.get<int64_t>("limit", 0); limit > 0 && limit < int64_t(ds.size())) {
    // Per-label files come grouped by class: a seeded stratified sample keeps every class.
    keep = plan_split(int64_t(ds.size()), ds.labels, {1.0 - double(limit) / double(ds.size()), 0, true, out.seed})[0];
  } else {
    for (int64_t i = 0; i < int64_t(ds.size()); ++i) keep.push_back(i);
  }
  std::vector<int64_t> kept_labels;
  for (int64_t i : keep) kept_labels.push_back(ds.labels[i]);
  auto parts = plan_split(int64_t(keep.size()), kept_labels, split);
  for (auto& p : parts)
    for (auto& i : p) i = keep[static_cast<size_t>(i)];

  data::TextDataset test_ds;
  const bool test_file = d.has("test_path") || d.has("test_files");
  if (test_file) {
    if (split.test > 0) d.fail("split.test and a test file both name a test set; keep one", "split");
    test_ds = read_source(d, kind, true, ds.class_names);
    to_utf8(test_ds.texts, &test_ds.sources, encoding);
  }

  TextEncoder enc;
  if (fitted) {
    enc = TextEncoder::from_json(fitted->at("tokenizer"));
  } else {
    std::vector<std::string> train_texts;
    for (int64_t i : parts[0]) train_texts.push_back(ds.texts[i]);
    // tokenizer: NAME, or tokenizer: {type: NAME, options...}
    const bool scalar = d.has("tokenizer") && d.node()["tokenizer"].IsScalar();
    Config tc = scalar ? Config::from_string("{}") : d.section("tokenizer");
    const std::string name = scalar ? d.get<std::string>("tokenizer", "word") : tc.get<std::string>("type", "word");
    enc = TextEncoder::fit(tc, name, train_texts);
  }
  out.report += "tokens: " + enc.describe() + (fitted ? ", as recorded in the model" : enc.learned() ? ", fitted on the training split" : ", from its vocabulary files") + "\n";
  Encoded tr = encode_all(enc, ds, parts[0], T), va = encode_all(enc, ds, parts[1], T), te = encode_all(enc, ds, parts[2], T);
  out.x_train = tr.x;
  out.y_train = tr.y;
  out.x_val = va.x;
  out.y_val = va.y;
  out.x_test = te.x;
  out.y_test = te.y;
  out.report += encoded_line("training", tr, T) + encoded_line("validation", va, T) + encoded_line("test", te, T);
  if (test_file) {
    std::vector<int64_t> all(test_ds.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
    Encoded tf = encode_all(enc, test_ds, all, T);
    out.x_test = tf.x;
    out.y_test = tf.y;
    out.report += encoded_line("test file", tf, T);
  }
  out.report += split_line(out.x_train.defined() ? out.x_train.size(0) : 0, out.x_val.defined() ? out.x_val.size(0) : 0,
                           out.x_test.defined() ? out.x_test.size(0) : 0);
  out.class_names = ds.class_names;
  out.vocab_size = enc.vocab_size();
  out.preprocess = {{"kind", "text"},
                    {"tokenizer", enc.to_json()},
                    {"max_length", T},
                    {"encoding", encoding},
                    {"text_key", d.get<std::string>("text_key", "text")},
                    {"class_names", out.class_names}};
  out.description = "text " + where + " (" + enc.type() + " tokens, " + std::to_string(T) + " per example)";
}

Tensor text_inputs(const std::string& path, const json& pp) {
  TextEncoder enc = TextEncoder::from_json(pp.at("tokenizer"));
  const int64_t T = pp.at("max_length").get<int64_t>();
  std::vector<int64_t> ids;
  const std::vector<std::string> texts = texts_to_predict(path, pp.value("text_key", "text"), pp.value("encoding", "auto"));
  for (const auto& t : texts) {
    auto row = enc.encode_padded(t, T);
    ids.insert(ids.end(), row.begin(), row.end());
  }
  return from_vector(ids, Shape{static_cast<int64_t>(texts.size()), T});
}

}  // namespace cairn::cli::detail_data

namespace cairn::cli {

std::vector<std::string> texts_to_predict(const std::string& path, const std::string& text_key, const std::string& encoding) {
  std::vector<std::string> texts;
  auto ext = std::filesystem::path(path).extension().string();
  if (ext == ".jsonl" || ext == ".json") {
    for (const nlohmann::json& j : data::load_jsonl(path)) {
      if (j.is_string()) texts.push_back(j.get<std::string>());
      else if (j.is_object() && j.contains(text_key) && j[text_key].is_string()) texts.push_back(j[text_key].get<std::string>());
      else throw ValueError(path + ": every line must be a JSON string or an object with a string '" + text_key + "'");
    }
  } else {
    std::string all = io::read_file(path);
    for (size_t at = 0; at < all.size();) {
      size_t nl = all.find('\n', at);
      std::string line = all.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") != std::string::npos) texts.push_back(line);
      at = nl == std::string::npos ? all.size() : nl + 1;
    }
  }
  CAIRN_CHECK(!texts.empty(), ValueError, path, ": no text to predict (one example per non-blank line)");
  detail_data::to_utf8(texts, nullptr, encoding);
  return texts;
}

}  // namespace cairn::cli
