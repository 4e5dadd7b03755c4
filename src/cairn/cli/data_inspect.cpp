// cairn data inspect FILE_OR_DIR [--label COL] [--json]
//
// What a data file holds, before training on it: schema and types, counts, missing values per column, class
// balance, duplicates and numeric summaries. Each format builds one JSON summary; the readable form is rendered
// from that JSON (scalars as "key: value", arrays of objects as tables, "classes" as counts with percentages).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "cairn/cli/data_cmds.h"
#include "cairn/data/clean.h"
#include "cairn/data/csv.h"
#include "cairn/data/error.h"
#include "cairn/data/idx.h"
#include "cairn/data/image.h"
#include "cairn/data/text.h"
#include "cairn/data/token_shard.h"
#include "cairn/io/atomic_file.h"

namespace cairn::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct Summary {  // numeric summary of present values
  int64_t n = 0;
  double min = INFINITY, max = -INFINITY, sum = 0, sq = 0;
  std::vector<double> values;
  void add(double v) {
    ++n;
    min = std::min(min, v), max = std::max(max, v), sum += v, sq += v * v;
    values.push_back(v);
  }
  void into(json& j) {
    if (n == 0) return;
    const double mean = sum / double(n);
    std::sort(values.begin(), values.end());
    j["min"] = min;
    j["mean"] = mean;
    j["std"] = std::sqrt(std::max(0.0, sq / double(n) - mean * mean));
    j["median"] = n % 2 ? values[size_t(n / 2)] : 0.5 * (values[size_t(n / 2) - 1] + values[size_t(n / 2)]);
    j["max"] = max;
  }
};

json class_table(const std::map<std::string, int64_t>& counts) {
  json c = json::object();
  for (const auto& [k, n] : counts) c[k] = n;
  return c;
}

std::string lower_ext(const fs::path& p) {
  std::string e = p.extension().string();
  for (auto& ch : e) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return e;
}

json inspect_csv(const fs::path& path, const std::string& label, char delim) {
  data::CsvOptions o;
  o.delimiter = delim;
  o.bad_rows = data::BadRowPolicy::Skip;
  data::CsvResult r = data::read_csv(path, o);
  const data::Table& t = r.table;
  json j = {{"kind", "csv"}, {"rows", r.report.rows_read}, {"rows_readable", r.report.rows_kept},
            {"bad_rows", r.report.bad_rows()}, {"columns_count", t.columns.size()}};
  json cols = json::array();
  for (const auto& c : t.columns) {
    json cj = {{"column", c.name}, {"type", data::column_type_name(c.type)}, {"missing", c.count_missing()}};
    if (c.numeric()) {
      Summary s;
      for (double v : c.numbers)
        if (!std::isnan(v)) s.add(v);
      s.into(cj);
    } else {
      std::vector<int64_t> counts(c.categories.size());
      for (int32_t code : c.codes)
        if (code >= 0) counts[size_t(code)]++;
      cj["distinct"] = c.categories.size();
      int64_t numeric = 0, present = 0;
      for (int32_t code : c.codes) {
        if (code < 0) continue;
        ++present;
        char* end = nullptr;
        const std::string& v = c.categories[size_t(code)];
        std::strtod(v.c_str(), &end);
        numeric += !v.empty() && *end == '\0';
      }
      if (numeric > 0 && numeric * 2 >= present)
        cj["note"] = std::to_string(present - numeric) + " of " + std::to_string(present) +
                     " values are not numbers; declare the column float to make them bad rows";
      if (!counts.empty()) {
        size_t top = size_t(std::max_element(counts.begin(), counts.end()) - counts.begin());
        cj["most_frequent"] = c.categories[top] + " (" + std::to_string(counts[top]) + ")";
      }
    }
    cols.push_back(cj);
  }
  j["columns"] = cols;
  data::Table copy = t;
  data::DropDuplicates dd;
  dd.fit(copy);
  data::CleanReport rep = dd.apply(copy);
  j["duplicate_rows"] = rep.dropped_rows.size();
  if (!rep.dropped_rows.empty()) {
    std::string lines;
    for (size_t i = 0; i < rep.dropped_rows.size() && i < 10; ++i) lines += (i ? ", " : "") + std::to_string(rep.dropped_rows[i]);
    j["duplicate_lines"] = lines + (rep.dropped_rows.size() > 10 ? ", ..." : "");
  }
  if (r.report.bad_rows() > 0) {
    json bad = json::array();
    for (const auto& b : r.report.examples) bad.push_back({{"line", b.line}, {"reason", data::bad_row_reason_name(b.reason)}, {"message", b.message}});
    j["bad_row_examples"] = bad;
  }
  std::string lab = label;
  if (lab.empty())
    for (const char* guess : {"label", "class", "target", "y", "species"})
      if (t.has_column(guess)) lab = guess;
  if (!lab.empty()) {
    const data::Column& c = t.column(lab);
    std::map<std::string, int64_t> counts;
    for (size_t i = 0; i < c.size(); ++i) counts[c.is_missing(i) ? "(missing)" : c.text(i)]++;
    j["label"] = lab;
    j["classes"] = class_table(counts);
  }
  return j;
}

json inspect_jsonl(const fs::path& path, const std::string& label) {
  auto recs = data::load_jsonl(path);
  json j = {{"kind", "jsonl"}, {"records", recs.size()}};
  std::vector<std::string> keys;
  std::map<std::string, std::set<std::string>> types;
  std::map<std::string, int64_t> present;
  std::map<std::string, Summary> nums;
  std::map<std::string, Summary> lengths;
  std::set<std::string> seen;
  int64_t dups = 0, non_objects = 0;
  for (const nlohmann::json& r : recs) {
    if (!seen.insert(r.dump()).second) ++dups;
    if (!r.is_object()) {
      ++non_objects;
      continue;
    }
    for (const auto& [k, v] : r.items()) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
      types[k].insert(v.type_name());
      if (!v.is_null()) present[k]++;
      if (v.is_number()) nums[k].add(v.get<double>());
      if (v.is_string()) lengths[k].add(double(v.get_ref<const std::string&>().size()));
    }
  }
  json cols = json::array();
  for (const auto& k : keys) {
    std::string ts;
    for (const auto& t : types[k]) ts += (ts.empty() ? "" : "|") + t;
    json cj = {{"key", k}, {"type", ts}, {"missing", int64_t(recs.size()) - non_objects - present[k]}};
    nums[k].into(cj);
    if (lengths[k].n) cj["mean_bytes"] = lengths[k].sum / double(lengths[k].n);
    cols.push_back(cj);
  }
  j["keys"] = cols;
  j["duplicate_records"] = dups;
  if (non_objects) j["non_object_records"] = non_objects;
  const std::string lab = label.empty() ? "label" : label;
  if (std::find(keys.begin(), keys.end(), lab) != keys.end()) {
    std::map<std::string, int64_t> counts;
    for (const nlohmann::json& r : recs)
      if (r.is_object()) counts[!r.contains(lab) || r[lab].is_null() ? "(missing)" : (r[lab].is_string() ? r[lab].get<std::string>() : r[lab].dump())]++;
    j["label"] = lab;
    j["classes"] = class_table(counts);
  }
  return j;
}

json inspect_text(const fs::path& path) {
  std::string all = io::read_file(path.string());
  int64_t lines = 0, blank = 0, invalid = 0, dups = 0, tabbed = 0;
  Summary bytes, words;
  std::set<std::string> seen;
  std::map<std::string, int64_t> labels;
  for (size_t at = 0; at < all.size();) {
    size_t nl = all.find('\n', at);
    std::string line = all.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? all.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    ++lines;
    if (line.find_first_not_of(" \t") == std::string::npos) {
      ++blank;
      continue;
    }
    if (!data::is_valid_utf8(line)) ++invalid;
    if (!seen.insert(line).second) ++dups;
    bytes.add(double(line.size()));
    int64_t w = 0;
    bool in = false;
    for (char c : line) {
      bool sp = c == ' ' || c == '\t';
      if (!sp && !in) ++w;
      in = !sp;
    }
    words.add(double(w));
    if (auto tab = line.find('\t'); tab != std::string::npos) {
      ++tabbed;
      labels[line.substr(0, tab)]++;
    }
  }
  json j = {{"kind", "text"}, {"lines", lines}, {"blank_lines", blank}, {"examples", lines - blank},
            {"duplicate_lines", dups}, {"lines_not_utf8", invalid}};
  if (invalid) j["encoding_hint"] = "lines that are not UTF-8 are probably latin-1: the text kind converts them (encoding: auto)";
  json cols = json::array();
  json b = {{"measure", "bytes per line"}}, w = {{"measure", "words per line"}};
  bytes.into(b);
  words.into(w);
  cols.push_back(b);
  cols.push_back(w);
  j["lengths"] = cols;
  if (tabbed == lines - blank && tabbed > 0 && labels.size() <= 100) {
    j["format"] = "label<TAB>text";
    j["classes"] = class_table(labels);
  }
  return j;
}

json inspect_idx(const fs::path& path) {
  data::IdxArray a = data::load_idx(path);
  json j = {{"kind", "idx"}, {"dtype", data::idx_dtype_name(a.dtype)}, {"shape", a.shape}, {"items", a.shape.empty() ? 0 : a.shape[0]}};
  auto f = a.to_float();
  Summary s;
  for (float v : f.data) s.add(v);
  json sj = json::object();
  s.into(sj);
  for (const char* k : {"min", "mean", "std", "max"})
    if (sj.contains(k)) j[k] = sj[k];
  if (a.shape.size() == 1 && a.dtype != data::IdxDtype::F32 && a.dtype != data::IdxDtype::F64) {
    std::map<std::string, int64_t> counts;
    for (int64_t v : a.to_int64().data) counts[std::to_string(v)]++;
    if (counts.size() <= 1000) j["classes"] = class_table(counts);
  }
  return j;
}

json inspect_shard(const fs::path& path) {
  data::TokenShard s = data::TokenShard::open(path);
  json j = {{"kind", "token_shard"}, {"dtype", s.dtype() == data::TokenDtype::U16 ? "uint16" : "uint32"},
            {"header", "llm.c"}, {"tokens", s.size()}};
  std::map<uint32_t, int64_t> counts;
  for (uint64_t i = 0; i < s.size(); ++i) counts[s[i]]++;
  if (!counts.empty()) {
    j["min_id"] = counts.begin()->first;
    j["max_id"] = counts.rbegin()->first;
  }
  j["distinct_ids"] = counts.size();
  std::vector<std::pair<int64_t, uint32_t>> top;
  for (auto [id, n] : counts) top.emplace_back(-n, id);
  std::sort(top.begin(), top.end());
  json t = json::array();
  for (size_t i = 0; i < top.size() && i < 5; ++i)
    t.push_back({{"id", top[i].second}, {"count", -top[i].first}, {"share", double(-top[i].first) / double(s.size())}});
  j["most_frequent_ids"] = t;
  fs::path tok = path.parent_path() / "tokenizer.json";
  if (fs::exists(tok)) j["tokenizer"] = tok.string();
  return j;
}

json inspect_image_folder(const fs::path& dir) {
  json j = {{"kind", "image_folder"}};
  std::map<std::string, int64_t> counts, sizes;
  json bad = json::array();
  int64_t images = 0, ignored = 0;
  std::vector<fs::path> classes;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) classes.push_back(e.path());
  std::sort(classes.begin(), classes.end());
  for (const auto& c : classes) {
    counts[c.filename().string()] = 0;
    for (const auto& e : fs::recursive_directory_iterator(c)) {
      if (!e.is_regular_file()) continue;
      std::string ext = lower_ext(e.path());
      if (ext != ".png" && ext != ".jpg" && ext != ".jpeg") {
        ++ignored;
        continue;
      }
      try {
        data::Image im = data::load_image(e.path());
        counts[c.filename().string()]++;
        sizes[std::to_string(im.height) + "x" + std::to_string(im.width) + "x" + std::to_string(im.channels)]++;
        ++images;
      } catch (const data::DataError& err) {
        bad.push_back(err.what());
      }
    }
  }
  j["images"] = images;
  j["classes_count"] = counts.size();
  j["ignored_files"] = ignored;
  json st = json::array();
  for (const auto& [k, n] : sizes) st.push_back({{"size (HxWxC)", k}, {"images", n}});
  j["sizes"] = st;
  if (!bad.empty()) j["unreadable"] = bad;
  j["classes"] = class_table(counts);
  return j;
}

// ---- rendering ----

std::string cell(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v.get<double>());
    return b;
  }
  return v.dump();
}

std::string table(const json& rows) {
  std::vector<std::string> cols;
  for (const auto& r : rows)
    for (const auto& [k, _] : r.items())
      if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
  std::vector<size_t> w(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) {
    w[c] = cols[c].size();
    for (const auto& r : rows) w[c] = std::max(w[c], r.contains(cols[c]) ? cell(r[cols[c]]).size() : 0);
  }
  std::string out;
  auto line = [&](auto get) {
    out += " ";
    for (size_t c = 0; c < cols.size(); ++c) {
      std::string s = get(c);
      out += " " + s + std::string(w[c] - s.size(), ' ') + " ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  };
  line([&](size_t c) { return cols[c]; });
  line([&](size_t c) { return std::string(w[c], '-'); });
  for (const auto& r : rows) line([&](size_t c) { return r.contains(cols[c]) ? cell(r[cols[c]]) : std::string(); });
  return out;
}

std::string render(const json& j) {
  std::string out = j.value("path", "") + " (" + j.value("kind", "") + ")\n", tables;
  for (const auto& [k, v] : j.items()) {
    if (k == "path" || k == "kind") continue;
    if (v.is_array() && !v.empty() && v[0].is_object()) {
      tables += "\n" + k + ":\n" + table(v);
    } else if (k == "classes") {
      int64_t total = 0;
      for (const auto& [_, n] : v.items()) total += n.get<int64_t>();
      json rows = json::array();
      for (const auto& [name, n] : v.items()) {
        char pct[32];
        std::snprintf(pct, sizeof pct, "%.1f%%", total ? 100.0 * double(n.get<int64_t>()) / double(total) : 0.0);
        rows.push_back({{"class", name}, {"count", n}, {"share", pct}});
      }
      tables += "\nclass balance" + (j.contains("label") ? " (" + j["label"].get<std::string>() + ")" : std::string()) + ":\n" + table(rows);
    } else if (v.is_array()) {
      std::string s;
      for (const auto& e : v) s += (s.empty() ? "" : ", ") + cell(e);
      out += k + ": " + s + "\n";
    } else {
      out += k + ": " + cell(v) + "\n";
    }
  }
  return out + tables;
}

}  // namespace

nlohmann::ordered_json inspect_path(const std::string& p, const std::string& label, char delim) {
  fs::path path(p);
  if (!fs::exists(path)) throw data::DataError::in_file(p, "no such file or directory");
  json j;
  if (fs::is_directory(path)) {
    j = inspect_image_folder(path);
  } else {
    const std::string ext = lower_ext(path), name = path.filename().string();
    if (ext == ".csv" || ext == ".tsv") j = inspect_csv(path, label, ext == ".tsv" && delim == ',' ? '\t' : delim);
    else if (ext == ".jsonl" || ext == ".ndjson") j = inspect_jsonl(path, label);
    else if (ext == ".bin") j = inspect_shard(path);
    else if (name.find("idx") != std::string::npos || name.find("ubyte") != std::string::npos || ext == ".idx") j = inspect_idx(path);
    else j = inspect_text(path);
  }
  json out = {{"path", p}};
  out.update(j);
  return out;
}

int cmd_data_inspect(const std::vector<std::string>& args) {
  std::string path, label;
  bool as_json = false;
  char delim = ',';
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") as_json = true;
    else if (args[i] == "--label" && i + 1 < args.size()) label = args[++i];
    else if (args[i] == "--delimiter" && i + 1 < args.size() && args[i + 1].size() == 1) delim = args[++i][0];
    else if (path.empty() && args[i][0] != '-') path = args[i];
    else throw UsageError("unexpected argument '" + args[i] + "'; usage: cairn data inspect FILE_OR_DIR [--label COL] [--json]");
  }
  if (path.empty()) throw UsageError("usage: cairn data inspect FILE_OR_DIR [--label COL] [--json]");
  json j = inspect_path(path, label, delim);
  std::printf("%s", as_json ? (j.dump(2) + "\n").c_str() : render(j).c_str());
  return 0;
}

}  // namespace cairn::cli
