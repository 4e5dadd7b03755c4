// Internal to the CSV reader: per-chunk parsing state and the row parser (fast in-place path + general path).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cairn/data/csv.h"
#include "cairn/data/csv_scan.h"

namespace cairn::data::csv_detail {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using Dictionary = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// What the reader decided about a column before parsing rows.
struct ColumnPlan {
  std::string name;
  ColumnType type = ColumnType::Float;
  bool is_label = false;
  bool fixed_categories = false;        // the declared label classes: no other value is accepted
  std::vector<std::string> categories;  // the fixed categories, in class-index order
};

// Read-only settings shared by all chunk parsers.
struct ParseSettings {
  const char* base = nullptr;  // the whole input
  std::string name;
  char delim = ',';
  std::vector<ColumnPlan> plan;
  std::vector<std::string> missing_tokens;
  bool empty_is_missing = true;
  BadRowPolicy policy = BadRowPolicy::Fail;
  size_t max_examples = 20;

  bool is_missing(std::string_view s) const {
    for (const std::string& t : missing_tokens) {
      if (s == t) return true;
    }
    return false;
  }
};

// One chunk's output; line numbers are relative to the chunk's first line (= 1) until merged.
struct ChunkOutput {
  std::vector<Column> columns;  // categorical: codes into this chunk's own `categories`
  std::vector<Dictionary> dicts;
  std::vector<bool> promoted;   // Int column met a non-integral value
  std::vector<int64_t> row_lines;
  int64_t rows_read = 0, rows_skipped = 0, rows_imputed = 0, blank_lines = 0;
  std::array<int64_t, kBadRowReasons> reason_counts{};
  std::vector<BadRow> examples;
  std::vector<int64_t> skipped_lines;
  bool failed = false;  // Fail policy: `fatal` is the first bad row and parsing stopped
  BadRow fatal;
  int64_t lines_consumed = 0;
};

enum class FieldStatus { Ok, Missing, BadNumber, OutOfRange, UnknownLabel };

// Parses [-]digits[.digits][e[+-]digits] exactly when that is cheap; nullptr means "use std::from_chars".
const char* parse_double_fast(const char* p, const char* end, double& out);
// Parses a number the lenient way (surrounding spaces, a leading '+'); the whole text must be consumed.
FieldStatus parse_number(std::string_view text, double& out);
// True if text (trimmed) is an optionally signed run of digits.
bool looks_integral(std::string_view text);

// Parses the records in [begin, end) of settings.base into `out`, reserving room for `reserve_rows` rows.
void parse_chunk(const ParseSettings& settings, size_t begin, size_t end, size_t reserve_rows, ChunkOutput& out);

}  // namespace cairn::data::csv_detail
