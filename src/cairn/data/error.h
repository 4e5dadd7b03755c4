// Errors raised by Cairn's data layer.
//
// Every reader in cairn::data treats its input as untrusted: malformed bytes never crash the process,
// they raise DataError. The message always says where (file, and a line number or a byte offset when
// one is known), what was wrong, and what to do about it, e.g.
//   "train.csv:17: column 'age': cannot parse 'abc' as a number. Fix the value, declare the column
//    categorical, or read with bad_rows = skip / impute."
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cairn::data {

class DataError : public std::runtime_error {
 public:
  // file: the input's name ("" when the error concerns no file, e.g. a bad option; parsers of in-memory
  // bytes pass "<memory>" or a caller-given name). line: 1-based line number, or 0 when not applicable.
  // offset: byte offset, or -1 when not applicable.
  DataError(std::string file, int64_t line, int64_t offset, const std::string& what);

  const std::string& file() const noexcept { return file_; }
  int64_t line() const noexcept { return line_; }
  int64_t offset() const noexcept { return offset_; }

  // Convenience constructors for the two common locations.
  static DataError at_line(std::string file, int64_t line, const std::string& what) {
    return DataError(std::move(file), line, -1, what);
  }
  static DataError at_byte(std::string file, int64_t offset, const std::string& what) {
    return DataError(std::move(file), 0, offset, what);
  }
  static DataError in_file(std::string file, const std::string& what) { return DataError(std::move(file), 0, -1, what); }

 private:
  std::string file_;
  int64_t line_;
  int64_t offset_;
};

// Quotes untrusted text for an error message: at most `max_len` bytes, non-printable bytes escaped as \xNN,
// so a binary file or a 1 MB field cannot flood a terminal.
std::string quote_for_message(std::string_view text, size_t max_len = 60);

}  // namespace cairn::data
