#include "cairn/data/csv_chunk.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "cairn/data/error.h"

namespace cairn::data::csv_detail {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

// Clinger's fast path: a decimal with at most 19 significant digits whose value is w * 10^e with w <= 2^53 and
// |e| <= 22 is exactly representable as one correctly rounded multiplication or division of two exact doubles.
// That covers nearly every number in real CSV files; anything else (long mantissas, big exponents, inf, nan)
// goes to std::from_chars. Returns the end of the number, or nullptr to ask for the fallback.
const char* parse_double_fast(const char* p, const char* end, double& out) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* s = p;
  bool neg = false;
  if (s < end && *s == '-') {
    neg = true;
    ++s;
  }
  uint64_t w = 0;
  int digits = 0;
  int exp10 = 0;
  const char* int_start = s;
  while (s < end && unsigned(*s - '0') < 10) {
    w = w * 10 + unsigned(*s - '0');
    ++s;
  }
  digits = int(s - int_start);
  if (s < end && *s == '.') {
    ++s;
    const char* frac_start = s;
    while (s < end && unsigned(*s - '0') < 10) {
      w = w * 10 + unsigned(*s - '0');
      ++s;
    }
    exp10 = -int(s - frac_start);
    digits += int(s - frac_start);
  }
  if (digits == 0 || digits > 19) return nullptr;  // no digits, or w may have overflowed
  if (s < end && (*s == 'e' || *s == 'E')) {
    const char* e = s + 1;
    bool eneg = false;
    if (e < end && (*e == '-' || *e == '+')) {
      eneg = *e == '-';
      ++e;
    }
    const char* estart = e;
    int ev = 0;
    while (e < end && unsigned(*e - '0') < 10 && e - estart < 6) {
      ev = ev * 10 + int(*e - '0');
      ++e;
    }
    if (e == estart || (e < end && unsigned(*e - '0') < 10)) return nullptr;
    exp10 += eneg ? -ev : ev;
    s = e;
  }
  if (w > (uint64_t(1) << 53)) return nullptr;
  double v;
  if (w == 0) {
    v = 0.0;
  } else if (exp10 >= 0 && exp10 <= 22) {
    v = double(w) * kPow10[exp10];
  } else if (exp10 < 0 && exp10 >= -22) {
    v = double(w) / kPow10[-exp10];
  } else {
    return nullptr;
  }
  out = neg ? -v : v;
  return s;
}

FieldStatus parse_number(std::string_view text, double& out) {
  std::string_view s = trim(text);
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  if (s.empty()) return FieldStatus::BadNumber;
  if (const char* q = parse_double_fast(s.data(), s.data() + s.size(), out); q == s.data() + s.size()) {
    return FieldStatus::Ok;
  }
  auto res = std::from_chars(s.data(), s.data() + s.size(), out);
  if (res.ec == std::errc::result_out_of_range && res.ptr == s.data() + s.size()) return FieldStatus::OutOfRange;
  if (res.ec != std::errc() || res.ptr != s.data() + s.size()) return FieldStatus::BadNumber;
  if (std::isnan(out)) return FieldStatus::Missing;
  return FieldStatus::Ok;
}

bool looks_integral(std::string_view text) {
  std::string_view s = trim(text);
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return false;  // longer runs of digits are not exact as double
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

namespace {

class ChunkParser {
 public:
  ChunkParser(const ParseSettings& s, ChunkOutput& out, size_t begin, size_t end, size_t reserve_rows)
      : s_(s), out_(out), base_(s.base), begin_(begin), end_(end), ncols_(s.plan.size()) {
    out_.columns.resize(ncols_);
    out_.dicts.resize(ncols_);
    out_.promoted.assign(ncols_, false);
    for (size_t c = 0; c < ncols_; ++c) {
      const ColumnPlan& p = s_.plan[c];
      out_.columns[c].name = p.name;
      out_.columns[c].type = p.type;
      if (p.fixed_categories) {
        out_.columns[c].categories = p.categories;
        for (size_t k = 0; k < p.categories.size(); ++k) out_.dicts[c].emplace(p.categories[k], int32_t(k));
      }
    }
    // Reserving address space is free until pages are touched, so a generous estimate avoids regrowth copies.
    size_t guess = reserve_rows;
    for (Column& col : out_.columns) {
      if (col.numeric()) col.numbers.reserve(guess);
      else col.codes.reserve(guess);
    }
    out_.row_lines.reserve(guess);
  }

  void run() {
    size_t p = begin_;
    while (p < end_ && !out_.failed) {
      if (!fast_row(p)) slow_row(p);
    }
    out_.lines_consumed = line_ - 1;
  }

 private:
  bool is_term(size_t p) const {
    return p >= end_ || base_[p] == s_.delim || base_[p] == '\n' || base_[p] == '\r';
  }

  // Looks up a categorical value; returns -1 for missing, -2 when the general path must decide (a bad label).
  int32_t lookup(size_t c, std::string_view text) {
    const ColumnPlan& plan = s_.plan[c];
    if (s_.is_missing(text)) return plan.is_label ? -2 : -1;
    Dictionary& dict = out_.dicts[c];
    auto it = dict.find(text);
    if (it != dict.end()) return it->second;
    if (plan.fixed_categories) return -2;
    Column& col = out_.columns[c];
    int32_t code = int32_t(col.categories.size());
    col.categories.emplace_back(text);
    dict.emplace(std::string(text), code);
    return code;
  }

  // Parses one well-formed, unquoted record in place. Returns false, with every value it had pushed popped
  // again, when the record needs the general path (quotes, wrong field count, bad values, blank line).
  bool fast_row(size_t& pos) {
    size_t p = pos;
    size_t pushed = 0;
    bool ok = true;
    promote_.clear();
    for (size_t c = 0; c < ncols_ && ok; ++c) {
      Column& col = out_.columns[c];
      if (col.numeric()) {
        if (is_term(p)) {  // empty field
          if (!s_.empty_is_missing || s_.plan[c].is_label || (c == 0 && (p >= end_ || base_[p] != s_.delim))) {
            ok = false;  // label missing, or a blank line
            break;
          }
          col.numbers.push_back(kNaN);
        } else {
          double v;
          size_t q;
          if (const char* e = parse_double_fast(base_ + p, base_ + end_, v)) {
            q = size_t(e - base_);
            if (!is_term(q)) {
              ok = false;
              break;
            }
          } else {
            auto res = std::from_chars(base_ + p, base_ + end_, v);
            q = size_t(res.ptr - base_);
            if (res.ec != std::errc() || !is_term(q) || std::isnan(v)) {
              ok = false;
              break;
            }
          }
          if (col.type == ColumnType::Int && v != std::trunc(v)) promote_.push_back(c);
          col.numbers.push_back(v);
          p = q;
        }
      } else {
        size_t start = p;
        while (p < end_ && base_[p] != s_.delim && base_[p] != '\n' && base_[p] != '\r' && base_[p] != '"') ++p;
        if (p < end_ && base_[p] == '"') {
          ok = false;
          break;
        }
        if (c == 0 && p == start && (p >= end_ || base_[p] != s_.delim)) {
          ok = false;  // blank line
          break;
        }
        int32_t code = lookup(c, std::string_view(base_ + start, p - start));
        if (code == -2) {
          ok = false;
          break;
        }
        col.codes.push_back(code);
      }
      pushed = c + 1;
      if (c + 1 < ncols_) {
        if (p < end_ && base_[p] == s_.delim) {
          ++p;
        } else {
          ok = false;  // too few fields
        }
      }
    }
    if (ok) {
      if (p >= end_) {
      } else if (base_[p] == '\n') {
        ++p;
      } else if (base_[p] == '\r') {
        ++p;
        if (p < end_ && base_[p] == '\n') ++p;
      } else {
        ok = false;  // too many fields
      }
    }
    if (!ok) {
      for (size_t c = 0; c < pushed; ++c) {
        Column& col = out_.columns[c];
        if (col.numeric()) col.numbers.pop_back();
        else col.codes.pop_back();
      }
      return false;
    }
    for (size_t c : promote_) out_.promoted[c] = true;
    out_.row_lines.push_back(line_);
    ++out_.rows_read;
    ++line_;
    pos = p;
    return true;
  }

  void slow_row(size_t& pos) {
    CsvScanner scanner(base_, end_, s_.delim, pos, line_);
    scanner.next(rec_);
    pos = scanner.pos();
    line_ = scanner.line();
    if (rec_.blank) {
      ++out_.blank_lines;
      return;
    }
    ++out_.rows_read;
    const int64_t line = rec_.line;
    if (!rec_.error.empty()) {
      std::string col = rec_.error_field < ncols_ ? s_.plan[rec_.error_field].name : "";
      bad(line, BadRowReason::BadQuote, col, "", (col.empty() ? "" : "column '" + col + "': ") + rec_.error, true);
      return;
    }
    const size_t n = rec_.fields.size();
    if (n > ncols_ || (n < ncols_ && s_.policy != BadRowPolicy::Impute)) {
      bad(line, BadRowReason::WrongColumnCount, "", "", wrong_count_message(n), true);
      return;
    }
    values_.assign(ncols_, Value{kNaN, -1});
    promote_.clear();
    bool imputed = false;
    BadRow first;
    bool have_first = false;
    if (n < ncols_) {  // Impute: the missing trailing fields become missing values
      first = make_bad(line, BadRowReason::WrongColumnCount, "", "", wrong_count_message(n) + " The missing fields were set to missing.", false);
      have_first = true;
      imputed = true;
      for (size_t c = n; c < ncols_; ++c) {
        if (s_.plan[c].is_label) {
          bad(line, BadRowReason::MissingLabel, s_.plan[c].name, "", missing_label_message(c), true);
          return;
        }
      }
    }
    for (size_t c = 0; c < n; ++c) {
      std::string_view text = rec_.field(base_, c);
      const ColumnPlan& plan = s_.plan[c];
      Column& col = out_.columns[c];
      FieldStatus st;
      if (col.numeric()) {
        st = s_.is_missing(text) ? FieldStatus::Missing : parse_number(text, values_[c].num);
        if (st == FieldStatus::Ok && col.type == ColumnType::Int && values_[c].num != std::trunc(values_[c].num)) {
          promote_.push_back(c);
        }
      } else {
        int32_t code = lookup(c, text);
        st = code == -1 ? FieldStatus::Missing : code == -2 && !s_.is_missing(text) ? FieldStatus::UnknownLabel
                                                 : code == -2 ? FieldStatus::Missing : FieldStatus::Ok;
        values_[c].code = code < 0 ? -1 : code;
      }
      if (st == FieldStatus::Missing) values_[c].num = kNaN;
      if (st == FieldStatus::Missing && plan.is_label) {
        bad(line, BadRowReason::MissingLabel, plan.name, std::string(text), missing_label_message(c), true);
        return;
      }
      if (st == FieldStatus::UnknownLabel) {
        bad(line, BadRowReason::UnknownLabel, plan.name, std::string(text), unknown_label_message(c, text), true);
        return;
      }
      if (st == FieldStatus::BadNumber || st == FieldStatus::OutOfRange) {
        if (plan.is_label || s_.policy != BadRowPolicy::Impute) {
          bad(line, BadRowReason::BadNumber, plan.name, std::string(text), bad_number_message(c, text, st), true);
          return;
        }
        values_[c].num = kNaN;
        imputed = true;
        if (!have_first) {
          first = make_bad(line, BadRowReason::BadNumber, plan.name, std::string(text),
                           bad_number_message(c, text, st) + " Set to missing.", false);
          have_first = true;
        }
      }
    }
    if (have_first) bad(std::move(first));
    for (size_t c = 0; c < ncols_; ++c) {
      Column& col = out_.columns[c];
      if (col.numeric()) col.numbers.push_back(values_[c].num);
      else col.codes.push_back(values_[c].code);
    }
    for (size_t c : promote_) out_.promoted[c] = true;
    out_.row_lines.push_back(line);
    if (imputed) ++out_.rows_imputed;
  }

  std::string wrong_count_message(size_t n) const {
    return "expected " + std::to_string(ncols_) + " fields (one per header column), found " + std::to_string(n) +
           ". Check for a missing or extra delimiter; a field containing '" + std::string(1, s_.delim) +
           "' must be quoted.";
  }
  std::string missing_label_message(size_t c) const {
    return "label column '" + s_.plan[c].name + "' is missing (empty or a missing token); a row without a label "
           "cannot be used for training. Fill it in, or read with bad_rows = skip.";
  }
  std::string unknown_label_message(size_t c, std::string_view text) const {
    std::string classes;
    for (const std::string& k : s_.plan[c].categories) classes += (classes.empty() ? "" : ", ") + k;
    return "label column '" + s_.plan[c].name + "': " + quote_for_message(text) +
           " is not one of the declared label classes (" + classes +
           "). Add it to CsvOptions::label_classes or fix the row.";
  }
  std::string bad_number_message(size_t c, std::string_view text, FieldStatus st) const {
    if (st == FieldStatus::OutOfRange) {
      return "column '" + s_.plan[c].name + "': " + quote_for_message(text) +
             " is outside the range of a double. Fix the value or read with bad_rows = impute.";
    }
    return "column '" + s_.plan[c].name + "' (" + column_type_name(s_.plan[c].type) + "): cannot parse " +
           quote_for_message(text) + " as a number. Fix the value, declare the column categorical in "
           "CsvOptions::column_types, add the text to missing_tokens, or read with bad_rows = skip or impute.";
  }

  BadRow make_bad(int64_t line, BadRowReason reason, std::string column, std::string text, std::string message,
                  bool skipped) const {
    BadRow b;
    b.line = line;
    b.reason = reason;
    b.column = std::move(column);
    b.text = text.size() > 200 ? text.substr(0, 200) : text;
    b.message = std::move(message);
    b.skipped = skipped;
    return b;
  }
  void bad(int64_t line, BadRowReason reason, std::string column, std::string text, std::string message, bool skipped) {
    bad(make_bad(line, reason, std::move(column), std::move(text), std::move(message), skipped));
  }
  void bad(BadRow b) {
    if (s_.policy == BadRowPolicy::Fail) {
      out_.failed = true;
      out_.fatal = std::move(b);
      return;
    }
    ++out_.reason_counts[size_t(b.reason)];
    if (b.skipped) {
      ++out_.rows_skipped;
      out_.skipped_lines.push_back(b.line);
    }
    if (out_.examples.size() < s_.max_examples) out_.examples.push_back(std::move(b));
  }

  struct Value {
    double num;
    int32_t code;
  };

  const ParseSettings& s_;
  ChunkOutput& out_;
  const char* base_;
  size_t begin_, end_;
  size_t ncols_;
  int64_t line_ = 1;
  CsvRecord rec_;
  std::vector<Value> values_;
  std::vector<size_t> promote_;  // Int columns this row would turn into Float, applied once the row is kept
};

}  // namespace

void parse_chunk(const ParseSettings& settings, size_t begin, size_t end, size_t reserve_rows, ChunkOutput& out) {
  ChunkParser(settings, out, begin, end, reserve_rows).run();
}

}  // namespace cairn::data::csv_detail
