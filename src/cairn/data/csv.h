// CSV reader (RFC 4180) producing a typed Table, with an explicit policy for bad rows.
//
//   cairn::data::CsvOptions opt;
//   opt.label_column = "species";
//   opt.bad_rows = cairn::data::BadRowPolicy::Skip;
//   cairn::data::CsvResult r = cairn::data::read_csv("iris.csv", opt);
//   std::cout << r.report.to_string();            // every skipped row, with its line number and reason
//   auto x = r.table.to_matrix(); auto y = r.table.labels();
//
// Format: a header row (unless header = false), fields separated by `delimiter`, records ended by LF or CRLF;
// fields may be quoted with '"', and quoted fields may hold the delimiter, newlines and doubled quotes ("").
// A UTF-8 byte order mark is skipped. Blank lines are skipped (and counted in the report).
//
// Types: a column declared in `column_types` has that type; the others are inferred from the first `infer_rows`
// records: numeric if every present value parses as a number (Int if all are integers), else categorical; records
// with a quoting error or with more or fewer fields than the header take no part in the vote, under every policy. A
// later value that does not fit an inferred numeric column is a bad row (BadNumber): declare the column
// categorical to keep such values. An Int column that meets a non-integral number becomes Float.
// Values equal to one of `missing_tokens` are missing (NaN / code -1); so is a number that parses as NaN.
//
// Speed: numeric fields are parsed in place with std::from_chars; a file with no quote character is split into
// line-aligned chunks parsed by `threads` threads (a quote could hide a newline, so quoted files use one thread).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/data/table.h"

namespace cairn::data {

enum class BadRowPolicy {
  Fail,    // throw DataError at the first bad row (file, line, column, offending text)
  Skip,    // drop bad rows; each is listed in the report
  Impute,  // unparsable numbers and missing trailing fields become missing values (fill them later with an
           // Imputer); rows that cannot be repaired (extra fields, bad quotes, bad or missing labels) are skipped
};

enum class BadRowReason : int {
  WrongColumnCount = 0,  // the record has more or fewer fields than the header
  BadNumber,             // a numeric column holds text that is not a number (or is out of double's range)
  UnknownLabel,          // the label is not in CsvOptions::label_classes
  MissingLabel,          // the label column is empty or a missing token
  BadQuote,              // a quote inside an unquoted field, text after a closing quote, or an unterminated quote
};
inline constexpr int kBadRowReasons = 5;
const char* bad_row_reason_name(BadRowReason reason);

struct CsvOptions {
  char delimiter = ',';
  bool header = true;
  // Used when header == false (default names: "column_0", "column_1", ...).
  std::vector<std::string> column_names;
  std::vector<std::string> missing_tokens = {"", "NA", "NaN", "?"};
  std::map<std::string, ColumnType> column_types;  // declared types; other columns are inferred
  size_t infer_rows = 10000;
  std::string label_column;                        // "" for none
  std::vector<std::string> label_classes;          // if set: the allowed labels, in class-index order
  BadRowPolicy bad_rows = BadRowPolicy::Fail;
  size_t max_examples = 20;                        // bad rows kept with full detail in the report
  int threads = 0;                                 // 0: std::thread::hardware_concurrency()
};

struct BadRow {
  int64_t line = 0;  // line where the record starts (1-based, counting the header)
  BadRowReason reason = BadRowReason::WrongColumnCount;
  std::string column;  // column name, "" when the whole record is at fault
  std::string text;    // the offending field (shortened), "" if none
  std::string message; // full human-readable explanation
  bool skipped = true; // false: kept with the value imputed as missing
};

struct CsvReport {
  std::string source;
  int64_t rows_read = 0;     // data records seen (header and blank lines excluded)
  int64_t rows_kept = 0;
  int64_t rows_skipped = 0;
  int64_t rows_imputed = 0;  // kept, with at least one bad value set to missing
  int64_t blank_lines = 0;
  std::array<int64_t, kBadRowReasons> reason_counts{};  // bad rows per BadRowReason
  std::vector<BadRow> examples;                          // the first max_examples bad rows, in file order
  std::vector<int64_t> skipped_lines;                    // the line of every skipped row, in file order
  std::vector<std::pair<std::string, ColumnType>> column_types;  // as read (declared or inferred)
  std::vector<std::pair<std::string, int64_t>> missing_per_column;
  int threads_used = 1;

  int64_t count(BadRowReason reason) const { return reason_counts[size_t(reason)]; }
  int64_t bad_rows() const;
  // Multi-line summary for a CLI: counts, column types, missing values, and the example bad rows.
  std::string to_string() const;
};

struct CsvResult {
  Table table;
  CsvReport report;
};

// Parses CSV text held in memory; `name` is used in messages. Throws DataError (name, line, column, text) for a
// bad row under BadRowPolicy::Fail, and for structural problems under any policy: no header row, duplicate
// declarations of unknown columns, a label column that does not exist.
CsvResult parse_csv(std::string_view text, const CsvOptions& options = {}, const std::string& name = "<memory>");

// Memory-maps the file and parses it as parse_csv.
CsvResult read_csv(const std::filesystem::path& path, const CsvOptions& options = {});

}  // namespace cairn::data
