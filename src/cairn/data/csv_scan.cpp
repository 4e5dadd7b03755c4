#include "cairn/data/csv_scan.h"

#include <algorithm>
#include <cstring>

namespace cairn::data::csv_detail {

void CsvScanner::skip_line_end() {
  if (pos_ < size_ && base_[pos_] == '\r') ++pos_;
  if (pos_ < size_ && base_[pos_] == '\n') ++pos_;
  ++line_;
}

void CsvScanner::skip_rest_of_line() {
  while (pos_ < size_ && base_[pos_] != '\n' && base_[pos_] != '\r') ++pos_;
  if (pos_ < size_) skip_line_end();
}

bool CsvScanner::next(CsvRecord& rec) {
  rec.fields.clear();
  rec.storage.clear();
  rec.error.clear();
  rec.blank = false;
  if (pos_ >= size_) return false;
  rec.line = line_;
  if (base_[pos_] == '\n' || base_[pos_] == '\r') {
    rec.blank = true;
    skip_line_end();
    return true;
  }
  for (;;) {
    if (pos_ < size_ && base_[pos_] == '"') {
      // Quoted field: runs to the next quote not followed by another quote; may span lines.
      const size_t open = pos_;
      const int64_t open_line = line_;
      ++pos_;
      size_t start = pos_;
      bool escaped = false;
      size_t storage_start = rec.storage.size();
      for (;;) {
        const void* q = pos_ < size_ ? std::memchr(base_ + pos_, '"', size_ - pos_) : nullptr;
        size_t qpos = q ? size_t(static_cast<const char*>(q) - base_) : size_;
        line_ += std::count(base_ + pos_, base_ + qpos, '\n');
        if (!q) {
          pos_ = size_;
          rec.error = "unterminated quoted field (opened at line " + std::to_string(open_line) + ", byte " +
                      std::to_string(open) + "); it runs to the end of the file. Close the quote.";
          rec.error_field = rec.fields.size();
          return true;
        }
        if (qpos + 1 < size_ && base_[qpos + 1] == '"') {
          // Doubled quote: the field needs unescaping into storage.
          if (!escaped) rec.storage.append(base_ + start, qpos - start);
          else rec.storage.append(base_ + pos_, qpos - pos_);
          rec.storage.push_back('"');
          escaped = true;
          pos_ = qpos + 2;
          continue;
        }
        if (escaped) rec.storage.append(base_ + pos_, qpos - pos_);
        size_t close = qpos;
        pos_ = qpos + 1;
        if (!at_terminator(pos_)) {
          rec.error = "text after the closing quote of a quoted field. Put the whole field inside the quotes and "
                      "double any quote inside it (\"\").";
          rec.error_field = rec.fields.size();
          skip_rest_of_line();
          return true;
        }
        if (escaped) {
          rec.fields.push_back({storage_start, rec.storage.size() - storage_start, true, true});
        } else {
          rec.fields.push_back({start, close - start, false, true});
        }
        break;
      }
    } else {
      size_t start = pos_;
      while (pos_ < size_ && base_[pos_] != delim_ && base_[pos_] != '\n' && base_[pos_] != '\r' && base_[pos_] != '"') ++pos_;
      if (pos_ < size_ && base_[pos_] == '"') {
        rec.error = "quote character inside an unquoted field. Quote the whole field and double the inner quote "
                    "(\"5'11\"\"\").";
        rec.error_field = rec.fields.size();
        skip_rest_of_line();
        return true;
      }
      rec.fields.push_back({start, pos_ - start, false, false});
    }
    // After a field: a delimiter (another field follows), a line end, or the end of input.
    if (pos_ < size_ && base_[pos_] == delim_) {
      ++pos_;
      continue;
    }
    if (pos_ < size_) skip_line_end();
    else ++line_;
    return true;
  }
}

}  // namespace cairn::data::csv_detail
