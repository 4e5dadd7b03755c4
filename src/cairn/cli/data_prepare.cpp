// cairn data split and the `cairn data` dispatch: prepare data files (see data_cmds.h; shard is in data_shard.cpp).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cairn/cli/config.h"
#include "cairn/cli/data_args.h"
#include "cairn/cli/data_cmds.h"
#include "cairn/data/dataset.h"
#include "cairn/data/error.h"
#include "cairn/io/atomic_file.h"

namespace cairn::cli {

namespace data_detail {

Args parse_args(const std::vector<std::string>& args, const std::vector<std::string>& valued, const std::string& usage) {
  Args a;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s.rfind("--", 0) == 0) {
      std::string key = s.substr(2), value;
      if (auto eq = key.find('='); eq != std::string::npos) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        throw UsageError("--" + key + " needs a value; usage: " + usage);
      }
      if (std::find(valued.begin(), valued.end(), key) == valued.end()) {
        std::string hint = closest(key, valued);
        throw UsageError("unknown option --" + key + (hint.empty() ? "" : " (did you mean --" + hint + "?)") + "; usage: " + usage);
      }
      a.opts[key] = value;
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

}  // namespace data_detail

namespace {

namespace fs = std::filesystem;
using data_detail::Args;
using data_detail::parse_args;

// CSV records (a quoted field may hold newlines), each without its line ending; blank records dropped.
std::vector<std::string> csv_records(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') quoted = !quoted;
    if (c == '\n' && !quoted) {
      if (!cur.empty() && cur.back() == '\r') cur.pop_back();
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty() && cur.back() == '\r') cur.pop_back();
  if (!cur.empty()) out.push_back(cur);
  if (!out.empty() && out[0].rfind("\xEF\xBB\xBF", 0) == 0) out[0].erase(0, 3);
  return out;
}

std::vector<std::string> csv_fields(const std::string& rec, char delim) {
  std::vector<std::string> f(1);
  bool q = false;
  for (size_t i = 0; i < rec.size(); ++i) {
    char c = rec[i];
    if (c == '"') {
      if (q && i + 1 < rec.size() && rec[i + 1] == '"') {
        f.back() += '"';
        ++i;
      } else {
        q = !q;
      }
    } else if (c == delim && !q) {
      f.emplace_back();
    } else {
      f.back() += c;
    }
  }
  return f;
}

std::vector<double> parse_fractions(const std::string& s) {
  std::vector<double> f;
  double total = 0;
  for (size_t at = 0; at <= s.size();) {
    size_t comma = s.find(',', at);
    std::string part = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    char* end = nullptr;
    double v = std::strtod(part.c_str(), &end);
    if (part.empty() || *end != '\0' || !(v > 0) || v >= 1)
      throw UsageError("--fractions: '" + part + "' is not a fraction in (0, 1); e.g. --fractions 0.8,0.1,0.1");
    f.push_back(v);
    total += v;
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  if (f.size() < 2) throw UsageError("--fractions needs at least two parts, e.g. 0.9,0.1");
  if (std::fabs(total - 1.0) > 1e-6)
    throw UsageError("--fractions must sum to 1 (got " + std::to_string(total) + "), e.g. 0.8,0.1,0.1");
  return f;
}

std::vector<std::string> part_names(size_t k) {
  if (k == 2) return {"train", "test"};
  if (k == 3) return {"train", "val", "test"};
  std::vector<std::string> n;
  for (size_t i = 0; i < k; ++i) n.push_back("part" + std::to_string(i));
  return n;
}

}  // namespace

int cmd_data_split(const std::vector<std::string>& args) {
  const std::string usage = "cairn data split FILE --out DIR --fractions 0.8,0.1,0.1 [--stratify COL] [--seed S]";
  Args a = parse_args(args, {"out", "fractions", "stratify", "seed", "delimiter"}, usage);
  if (a.positional.size() != 1 || !a.opts.count("out") || !a.opts.count("fractions")) throw UsageError("usage: " + usage);
  const fs::path in = a.positional[0];
  const std::vector<double> fractions = parse_fractions(a.opts["fractions"]);
  const uint64_t seed = a.opts.count("seed") ? std::stoull(a.opts["seed"]) : 1;
  std::string ext = in.extension().string();
  const bool csv = ext == ".csv" || ext == ".tsv", jsonl = ext == ".jsonl" || ext == ".ndjson";
  const char delim = a.opts.count("delimiter") ? a.opts["delimiter"].at(0) : (ext == ".tsv" ? '\t' : ',');

  std::string text;
  try {
    text = io::read_file(in.string());
  } catch (const io::IoError& e) {
    throw data::DataError::in_file(in.string(), e.what());
  }
  std::string header;
  std::vector<std::string> recs;
  std::vector<int64_t> lines;  // first line of each record, for messages
  if (csv) {
    recs = csv_records(text);
    if (recs.empty()) throw data::DataError::in_file(in.string(), "empty CSV: no header row");
    header = recs.front();
    recs.erase(recs.begin());
  } else {
    size_t n = 0;
    for (size_t at = 0; at < text.size();) {
      size_t nl = text.find('\n', at);
      std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      at = nl == std::string::npos ? text.size() : nl + 1;
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      recs.push_back(line);
      lines.push_back(int64_t(n));
    }
  }
  if (recs.empty()) throw data::DataError::in_file(in.string(), "no records to split");

  std::vector<int64_t> labels;
  std::vector<std::string> class_names;
  if (a.opts.count("stratify")) {
    const std::string col = a.opts["stratify"];
    std::map<std::string, int64_t> ids;
    auto id_of = [&](const std::string& v) {
      auto [it, added] = ids.emplace(v, int64_t(ids.size()));
      if (added) class_names.push_back(v.empty() ? "(missing)" : v);
      return it->second;
    };
    if (csv) {
      auto names = csv_fields(header, delim);
      auto it = std::find(names.begin(), names.end(), col);
      if (it == names.end()) throw UsageError("--stratify: no column '" + col + "' in " + in.string() + "; columns: " + header);
      size_t k = size_t(it - names.begin());
      for (size_t i = 0; i < recs.size(); ++i) {
        auto f = csv_fields(recs[i], delim);
        labels.push_back(id_of(k < f.size() ? f[k] : ""));
      }
    } else if (jsonl) {
      for (size_t i = 0; i < recs.size(); ++i) {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(recs[i]);
        } catch (const nlohmann::json::parse_error& e) {
          throw data::DataError::at_line(in.string(), lines[i], std::string("invalid JSON: ") + e.what());
        }
        if (!j.is_object() || !j.contains(col))
          throw data::DataError::at_line(in.string(), lines[i], "no key '" + col + "' to stratify by");
        labels.push_back(id_of(j[col].is_string() ? j[col].get<std::string>() : j[col].dump()));
      }
    } else {
      throw UsageError("--stratify needs a CSV column or a JSON Lines key; " + in.string() + " is plain text");
    }
  }
  auto parts = data::split_indices(int64_t(recs.size()), fractions, seed, labels.empty() ? nullptr : &labels);
  fs::create_directories(a.opts["out"]);
  auto names = part_names(parts.size());
  for (size_t p = 0; p < parts.size(); ++p) {
    const fs::path out = fs::path(a.opts["out"]) / (names[p] + ext);
    io::AtomicFile f(out.string());
    if (csv) f.write(header + "\n");
    std::map<int64_t, int64_t> counts;
    for (int64_t i : parts[p]) {
      f.write(recs[size_t(i)] + "\n");
      if (!labels.empty()) counts[labels[size_t(i)]]++;
    }
    f.commit();
    std::printf("%s: %zu records", out.string().c_str(), parts[p].size());
    if (!counts.empty()) {
      std::printf(" (");
      for (auto it = counts.begin(); it != counts.end(); ++it)
        std::printf("%s%s %lld", it == counts.begin() ? "" : ", ", class_names[size_t(it->first)].c_str(), (long long)it->second);
      std::printf(")");
    }
    std::printf("\n");
  }
  return 0;
}

int cmd_data(const std::vector<std::string>& args) {
  const std::string usage =
      "usage: cairn data inspect FILE_OR_DIR [--label COL] [--json]\n"
      "       cairn data split FILE --out DIR --fractions 0.8,0.1,0.1 [--stratify COL] [--seed S]\n"
      "       cairn data shard TEXT_FILE --out DIR --tokenizer char|bpe [--vocab F --merges F | --vocab-size N] "
      "[--shard-size N] [--val-fraction F] [--chunk-bytes N]";
  if (args.empty()) throw UsageError(usage);
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "inspect") return cmd_data_inspect(rest);
  if (args[0] == "split") return cmd_data_split(rest);
  if (args[0] == "shard") return cmd_data_shard(rest);
  throw UsageError("unknown data command '" + args[0] + "'\n" + usage);
}

}  // namespace cairn::cli
