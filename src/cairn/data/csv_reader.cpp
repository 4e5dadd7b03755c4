// CSV reader: header, type inference, chunked (multi-threaded) parsing, and merging of the chunks.
#include <algorithm>
#include <cstring>
#include <exception>
#include <set>
#include <thread>

#include "cairn/data/csv.h"
#include "cairn/data/csv_chunk.h"
#include "cairn/data/error.h"
#include "cairn/data/file_util.h"

namespace cairn::data {

using csv_detail::ChunkOutput;
using csv_detail::ColumnPlan;
using csv_detail::CsvRecord;
using csv_detail::CsvScanner;
using csv_detail::Dictionary;
using csv_detail::FieldStatus;
using csv_detail::ParseSettings;

namespace {

// Column names from the header record: empty names become "Unnamed: i" and repeats get ".1", ".2" (pandas' rules),
// so every column can be addressed by a unique name.
std::vector<std::string> unique_names(std::vector<std::string> names) {
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) names[i] = "Unnamed: " + std::to_string(i);
    std::string base = names[i];
    for (int k = 1; seen.count(names[i]); ++k) names[i] = base + "." + std::to_string(k);
    seen.insert(names[i]);
  }
  return names;
}

// Decides the type of every undeclared column from the first `infer_rows` records; returns the average bytes
// per record of that sample (0 if there was none), used to size the column buffers. Records the parser will
// reject whatever the column types (quoting errors, more or fewer fields than the header) take no part in the
// vote: under Skip they are dropped, under Impute their short tail is filled with missing values, and in both
// cases junk in them must not turn a numeric column categorical. They still count towards `infer_rows`, which
// bounds the cost of inference on a file where most records are malformed.
double infer_types(const ParseSettings& s, size_t size, size_t data_begin, int64_t first_line, size_t infer_rows,
                 std::vector<ColumnPlan>& plan, const std::vector<bool>& declared) {
  const size_t n = plan.size();
  std::vector<bool> numeric(n, true), integral(n, true), present(n, false);
  CsvScanner scanner(s.base, size, s.delim, data_begin, first_line);
  CsvRecord rec;
  size_t rows = 0;
  while (rows < infer_rows && scanner.next(rec)) {
    if (rec.blank) continue;
    ++rows;
    if (!rec.error.empty() || rec.fields.size() != n) continue;
    for (size_t c = 0; c < n; ++c) {
      std::string_view t = rec.field(s.base, c);
      if (s.is_missing(t)) continue;
      double v;
      FieldStatus st = csv_detail::parse_number(t, v);
      if (st == FieldStatus::Missing) continue;
      present[c] = true;
      if (st != FieldStatus::Ok) numeric[c] = false;
      else if (!csv_detail::looks_integral(t)) integral[c] = false;
    }
  }
  for (size_t c = 0; c < n; ++c) {
    if (declared[c]) continue;
    plan[c].type = !numeric[c] ? ColumnType::Categorical : (integral[c] && present[c]) ? ColumnType::Int : ColumnType::Float;
  }
  return rows ? double(scanner.pos() - data_begin) / double(rows) : 0.0;
}

// Chunk boundaries: starts of lines near equal splits of [begin, size).
std::vector<size_t> split_points(const char* base, size_t begin, size_t size, int chunks) {
  std::vector<size_t> cuts{begin};
  for (int k = 1; k < chunks; ++k) {
    size_t target = begin + (size - begin) / size_t(chunks) * size_t(k);
    if (target <= cuts.back()) continue;
    const void* nl = std::memchr(base + target, '\n', size - target);
    if (!nl) break;
    size_t cut = size_t(static_cast<const char*>(nl) - base) + 1;
    if (cut >= size) break;
    cuts.push_back(cut);
  }
  cuts.push_back(size);
  return cuts;
}

// Concatenates the chunks' columns; categorical codes are remapped onto one dictionary, and inferred categories
// are sorted (byte order) with unused ones dropped, so the class indices do not depend on row order or chunking.
Column merge_column(const ParseSettings& s, size_t c, std::vector<ChunkOutput>& parts) {
  const ColumnPlan& plan = s.plan[c];
  Column out;
  out.name = plan.name;
  out.type = plan.type;
  size_t total = 0;
  for (ChunkOutput& p : parts) total += p.columns[c].size();
  if (out.numeric()) {
    // The first chunk reserved room for the whole file, so appending the others does not reallocate.
    out.numbers = std::move(parts[0].columns[c].numbers);
    out.numbers.reserve(total);
    for (size_t k = 0; k < parts.size(); ++k) {
      if (parts[k].promoted[c]) out.type = ColumnType::Float;
      if (k > 0) {
        const std::vector<double>& v = parts[k].columns[c].numbers;
        out.numbers.insert(out.numbers.end(), v.begin(), v.end());
      }
    }
    return out;
  }
  std::vector<std::string> names;
  if (parts.size() == 1) {
    // One chunk: its categories are already unique (and start with the fixed ones), no remapping needed.
    names = std::move(parts[0].columns[c].categories);
    out.codes = std::move(parts[0].columns[c].codes);
  }
  Dictionary global;
  if (parts.size() > 1) {
    if (plan.fixed_categories) names = plan.categories;
    for (size_t k = 0; k < names.size(); ++k) global.emplace(names[k], int32_t(k));
    out.codes.reserve(total);
  }
  for (ChunkOutput& p : parts) {
    if (parts.size() == 1) break;
    const Column& col = p.columns[c];
    std::vector<int32_t> remap(col.categories.size());
    for (size_t k = 0; k < col.categories.size(); ++k) {
      auto [it, inserted] = global.emplace(col.categories[k], int32_t(names.size()));
      if (inserted) names.push_back(col.categories[k]);
      remap[k] = it->second;
    }
    for (int32_t code : col.codes) out.codes.push_back(code < 0 ? -1 : remap[size_t(code)]);
  }
  if (plan.fixed_categories) {
    out.categories = std::move(names);
    return out;
  }
  std::vector<bool> used(names.size(), false);
  for (int32_t code : out.codes) {
    if (code >= 0) used[size_t(code)] = true;
  }
  std::vector<int32_t> order;
  for (size_t k = 0; k < names.size(); ++k) {
    if (used[k]) order.push_back(int32_t(k));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return names[size_t(a)] < names[size_t(b)]; });
  std::vector<int32_t> remap(names.size(), -1);
  for (size_t k = 0; k < order.size(); ++k) {
    remap[size_t(order[k])] = int32_t(k);
    out.categories.push_back(names[size_t(order[k])]);
  }
  for (int32_t& code : out.codes) {
    if (code >= 0) code = remap[size_t(code)];
  }
  return out;
}

}  // namespace

CsvResult parse_csv(std::string_view text, const CsvOptions& opt, const std::string& name) {
  if (opt.delimiter == '"' || opt.delimiter == '\n' || opt.delimiter == '\r') {
    throw DataError::in_file(name, "CsvOptions::delimiter cannot be a quote or a line break.");
  }
  ParseSettings s;
  s.base = text.data();
  s.name = name;
  s.delim = opt.delimiter;
  s.missing_tokens = opt.missing_tokens;
  s.empty_is_missing = std::find(opt.missing_tokens.begin(), opt.missing_tokens.end(), "") != opt.missing_tokens.end();
  s.policy = opt.bad_rows;
  s.max_examples = opt.max_examples;
  const size_t size = text.size();

  size_t pos = 0;
  if (size >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) pos = 3;  // UTF-8 byte order mark
  CsvScanner scanner(s.base, size, s.delim, pos, 1);
  CsvRecord rec;
  std::vector<std::string> names;
  if (opt.header) {
    bool got = false;
    while ((got = scanner.next(rec)) && rec.blank) {
    }
    if (!got) throw DataError::in_file(name, "the file is empty: no header row. Pass a CSV file with a header, or set header = false.");
    if (!rec.error.empty()) throw DataError::at_line(name, rec.line, "malformed header row: " + rec.error);
    for (size_t i = 0; i < rec.fields.size(); ++i) names.emplace_back(rec.field(s.base, i));
    pos = scanner.pos();
  } else if (!opt.column_names.empty()) {
    names = opt.column_names;
  } else {
    CsvScanner probe = scanner;
    bool got = false;
    while ((got = probe.next(rec)) && rec.blank) {
    }
    size_t n = got ? std::max<size_t>(rec.fields.size(), 1) : 0;
    for (size_t i = 0; i < n; ++i) names.push_back("column_" + std::to_string(i));
  }
  const int64_t first_line = scanner.line();
  names = unique_names(std::move(names));

  // Plan the columns: declared types, the label column, then inference for the rest.
  std::vector<bool> declared(names.size(), false);
  s.plan.resize(names.size());
  for (size_t c = 0; c < names.size(); ++c) s.plan[c].name = names[c];
  auto index_of = [&](const std::string& col, const char* what) {
    auto it = std::find(names.begin(), names.end(), col);
    if (it == names.end()) {
      std::string all;
      for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
      throw DataError::in_file(name, std::string(what) + " names column '" + col + "', which the file does not have. Columns: " + all + ".");
    }
    return size_t(it - names.begin());
  };
  for (const auto& [col, type] : opt.column_types) {
    size_t c = index_of(col, "CsvOptions::column_types");
    s.plan[c].type = type;
    declared[c] = true;
  }
  if (!opt.label_column.empty()) {
    size_t c = index_of(opt.label_column, "CsvOptions::label_column");
    s.plan[c].is_label = true;
    if (!opt.label_classes.empty()) {
      if (declared[c] && s.plan[c].type != ColumnType::Categorical) {
        throw DataError::in_file(name, "label column '" + opt.label_column + "' is declared " + column_type_name(s.plan[c].type) +
                                           " but label_classes are given; declared classes make it categorical.");
      }
      std::set<std::string> unique(opt.label_classes.begin(), opt.label_classes.end());
      if (unique.size() != opt.label_classes.size()) {
        throw DataError::in_file(name, "CsvOptions::label_classes lists a class twice.");
      }
      s.plan[c].type = ColumnType::Categorical;
      s.plan[c].fixed_categories = true;
      s.plan[c].categories = opt.label_classes;
      declared[c] = true;
    }
  }
  const double bytes_per_row = infer_types(s, size, pos, first_line, opt.infer_rows, s.plan, declared);

  // Chunked parsing: only when no quote can hide a newline inside a field.
  int threads = opt.threads > 0 ? opt.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  const size_t min_chunk = size_t(1) << 20;
  if (threads > 1 && (size - pos < min_chunk * 2 || std::memchr(s.base + pos, '"', size - pos) != nullptr)) threads = 1;
  std::vector<size_t> cuts = threads > 1 ? split_points(s.base, pos, size, threads) : std::vector<size_t>{pos, size};
  const size_t nchunks = cuts.size() - 1;
  std::vector<ChunkOutput> parts(nchunks);
  auto reserve_for = [&](size_t bytes) {
    return bytes_per_row > 0 ? size_t(double(bytes) / bytes_per_row * 1.05) + 64 : size_t(64);
  };
  if (nchunks == 1) {
    csv_detail::parse_chunk(s, cuts[0], cuts[1], reserve_for(size - pos), parts[0]);
  } else {
    std::vector<std::exception_ptr> errors(nchunks);
    std::vector<std::thread> pool;
    for (size_t k = 0; k < nchunks; ++k) {
      pool.emplace_back([&, k] {
        try {
          size_t bytes = k == 0 ? size - pos : cuts[k + 1] - cuts[k];
          csv_detail::parse_chunk(s, cuts[k], cuts[k + 1], reserve_for(bytes), parts[k]);
        } catch (...) {
          errors[k] = std::current_exception();
        }
      });
    }
    for (std::thread& t : pool) t.join();
    for (auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
  }

  // Chunk-relative line numbers become file line numbers.
  int64_t offset = first_line - 1;
  for (ChunkOutput& p : parts) {
    for (int64_t& l : p.row_lines) l += offset;
    for (int64_t& l : p.skipped_lines) l += offset;
    for (BadRow& b : p.examples) b.line += offset;
    p.fatal.line += offset;
    if (p.failed) {
      throw DataError::at_line(name, p.fatal.line, p.fatal.message + " (bad_rows = fail)");
    }
    offset += p.lines_consumed;
  }

  CsvResult result;
  CsvReport& rep = result.report;
  Table& t = result.table;
  t.source = name;
  t.label = opt.label_column;
  rep.source = name;
  rep.threads_used = int(nchunks);
  for (size_t c = 0; c < s.plan.size(); ++c) t.columns.push_back(merge_column(s, c, parts));
  t.row_ids = std::move(parts[0].row_lines);
  for (size_t k = 0; k < nchunks; ++k) {
    ChunkOutput& p = parts[k];
    if (k > 0) t.row_ids.insert(t.row_ids.end(), p.row_lines.begin(), p.row_lines.end());
    rep.rows_read += p.rows_read;
    rep.rows_skipped += p.rows_skipped;
    rep.rows_imputed += p.rows_imputed;
    rep.blank_lines += p.blank_lines;
    for (int r = 0; r < kBadRowReasons; ++r) rep.reason_counts[size_t(r)] += p.reason_counts[size_t(r)];
    for (BadRow& b : p.examples) {
      if (rep.examples.size() < opt.max_examples) rep.examples.push_back(std::move(b));
    }
    rep.skipped_lines.insert(rep.skipped_lines.end(), p.skipped_lines.begin(), p.skipped_lines.end());
  }
  rep.rows_kept = int64_t(t.rows());
  for (const Column& c : t.columns) {
    rep.column_types.emplace_back(c.name, c.type);
    rep.missing_per_column.emplace_back(c.name, int64_t(c.count_missing()));
  }
  return result;
}

CsvResult read_csv(const std::filesystem::path& path, const CsvOptions& options) {
  MappedFile file(path, MappedFile::Access::Sequential);
  return parse_csv(std::string_view(file.chars(), file.size()), options, path.string());
}

}  // namespace cairn::data
