// Internal to the CSV reader: the RFC 4180 record scanner (the general, slower path that handles quotes and
// every malformed case; the reader's fast path handles plain rows in place and falls back to this).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::data::csv_detail {

struct CsvRecord {
  struct Field {
    size_t offset;  // into the input (in_storage == false) or into `storage`
    size_t size;
    bool in_storage;
    bool quoted;
  };
  std::vector<Field> fields;
  std::string storage;  // unescaped text of quoted fields that held doubled quotes
  int64_t line = 0;     // line where the record starts
  bool blank = false;   // an empty line (no fields)
  std::string error;    // non-empty: a quoting error (the record was skipped to the end of its line)
  size_t error_field = 0;

  std::string_view field(const char* base, size_t i) const {
    const Field& f = fields[i];
    return f.in_storage ? std::string_view(storage).substr(f.offset, f.size) : std::string_view(base + f.offset, f.size);
  }
};

// Reads records one at a time from [base + pos, base + size).
class CsvScanner {
 public:
  CsvScanner(const char* base, size_t size, char delimiter, size_t pos = 0, int64_t line = 1)
      : base_(base), size_(size), delim_(delimiter), pos_(pos), line_(line) {}

  // Fills `rec` with the next record; false at end of input.
  bool next(CsvRecord& rec);

  size_t pos() const { return pos_; }
  int64_t line() const { return line_; }

 private:
  bool at_terminator(size_t p) const { return p >= size_ || base_[p] == delim_ || base_[p] == '\n' || base_[p] == '\r'; }
  void skip_line_end();
  void skip_rest_of_line();

  const char* base_;
  size_t size_;
  char delim_;
  size_t pos_;
  int64_t line_;
};

}  // namespace cairn::data::csv_detail
