#include "cairn/data/csv.h"

namespace cairn::data {

const char* bad_row_reason_name(BadRowReason reason) {
  switch (reason) {
    case BadRowReason::WrongColumnCount: return "wrong column count";
    case BadRowReason::BadNumber: return "bad number";
    case BadRowReason::UnknownLabel: return "unknown label";
    case BadRowReason::MissingLabel: return "missing label";
    case BadRowReason::BadQuote: return "bad quote";
  }
  return "unknown";
}

int64_t CsvReport::bad_rows() const {
  int64_t n = 0;
  for (int64_t c : reason_counts) n += c;
  return n;
}

std::string CsvReport::to_string() const {
  std::string s = source + ": " + std::to_string(rows_read) + " rows read, " + std::to_string(rows_kept) + " kept, " +
                  std::to_string(rows_skipped) + " skipped, " + std::to_string(rows_imputed) + " with values imputed";
  if (blank_lines) s += ", " + std::to_string(blank_lines) + " blank lines ignored";
  s += "\n";
  s += "columns:";
  for (size_t i = 0; i < column_types.size(); ++i) {
    s += std::string(i ? "," : "") + " " + column_types[i].first + " (" + column_type_name(column_types[i].second);
    if (i < missing_per_column.size() && missing_per_column[i].second > 0) {
      s += ", " + std::to_string(missing_per_column[i].second) + " missing";
    }
    s += ")";
  }
  s += "\n";
  if (bad_rows() > 0) {
    s += "bad rows:";
    bool first = true;
    for (int r = 0; r < kBadRowReasons; ++r) {
      if (reason_counts[size_t(r)] == 0) continue;
      s += std::string(first ? " " : ", ") + std::to_string(reason_counts[size_t(r)]) + " " +
           bad_row_reason_name(BadRowReason(r));
      first = false;
    }
    s += "\n";
    for (const BadRow& b : examples) {
      s += "  line " + std::to_string(b.line) + " [" + bad_row_reason_name(b.reason) + ", " +
           (b.skipped ? "skipped" : "imputed") + "]: " + b.message + "\n";
    }
    if (int64_t(examples.size()) < bad_rows()) {
      s += "  ... and " + std::to_string(bad_rows() - int64_t(examples.size())) + " more\n";
    }
  }
  return s;
}

}  // namespace cairn::data
