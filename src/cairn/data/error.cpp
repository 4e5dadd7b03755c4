#include "cairn/data/error.h"

#include <cstdio>

namespace cairn::data {

namespace {
std::string format_location(const std::string& file, int64_t line, int64_t offset) {
  std::string where = file.empty() ? std::string("<memory>") : file;
  if (line > 0) where.append(":").append(std::to_string(line));
  if (offset >= 0) where.append(" (byte ").append(std::to_string(offset)).append(")");
  return where;
}
}  // namespace

DataError::DataError(std::string file, int64_t line, int64_t offset, const std::string& what)
    : std::runtime_error(file.empty() && line <= 0 && offset < 0
                             ? what  // not about a file (e.g. a bad option): no location to show
                             : format_location(file, line, offset).append(": ").append(what)),
      file_(std::move(file)),
      line_(line),
      offset_(offset) {}

std::string quote_for_message(std::string_view text, size_t max_len) {
  std::string out = "'";
  size_t n = text.size() < max_len ? text.size() : max_len;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c >= 0x80) {
      out += static_cast<char>(c);  // keep UTF-8 readable; the terminal decides
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  out += "'";
  if (text.size() > max_len) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace cairn::data
