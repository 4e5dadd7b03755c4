#include "cairn/data/table.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "cairn/data/error.h"

namespace cairn::data {

const char* column_type_name(ColumnType type) {
  switch (type) {
    case ColumnType::Float: return "float";
    case ColumnType::Int: return "int";
    case ColumnType::Categorical: return "categorical";
  }
  return "unknown";
}

size_t Column::count_missing() const {
  size_t n = 0;
  if (numeric()) {
    for (double v : numbers) n += std::isnan(v);
  } else {
    for (int32_t c : codes) n += c < 0;
  }
  return n;
}

std::string Column::text(size_t row) const {
  if (is_missing(row)) return "";
  if (!numeric()) return categories[size_t(codes[row])];
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, numbers[row]);
  return std::string(buf, res.ptr);
}

bool Table::has_column(const std::string& name) const {
  return std::any_of(columns.begin(), columns.end(), [&](const Column& c) { return c.name == name; });
}

const Column& Table::column(const std::string& name) const {
  for (const Column& c : columns) {
    if (c.name == name) return c;
  }
  std::string names;
  for (const Column& c : columns) names += (names.empty() ? "" : ", ") + c.name;
  throw DataError::in_file(source, "no column named '" + name + "'; the columns are: " + names + ".");
}

Column& Table::column(const std::string& name) {
  return const_cast<Column&>(static_cast<const Table*>(this)->column(name));
}

std::vector<std::string> Table::column_names() const {
  std::vector<std::string> out;
  for (const Column& c : columns) out.push_back(c.name);
  return out;
}

std::vector<std::string> Table::feature_names() const {
  std::vector<std::string> out;
  for (const Column& c : columns) {
    if (c.name != label) out.push_back(c.name);
  }
  return out;
}

void Table::check_consistent() const {
  for (const Column& c : columns) {
    if (c.size() != rows()) {
      throw DataError::in_file(source, "column '" + c.name + "' has " + std::to_string(c.size()) + " values but the table has " +
                                           std::to_string(rows()) + " rows.");
    }
    if (!c.numeric()) {
      for (int32_t code : c.codes) {
        if (code >= int32_t(c.categories.size())) {
          throw DataError::in_file(source, "column '" + c.name + "' has code " + std::to_string(code) + " but only " +
                                               std::to_string(c.categories.size()) + " categories.");
        }
      }
    }
  }
}

void Table::select_rows(const std::vector<size_t>& keep) {
  for (size_t r : keep) {
    if (r >= rows()) throw std::out_of_range("Table::select_rows: row " + std::to_string(r) + " of " + std::to_string(rows()));
  }
  auto pick = [&](auto& v) {
    std::remove_reference_t<decltype(v)> out;
    out.reserve(keep.size());
    for (size_t r : keep) out.push_back(v[r]);
    v = std::move(out);
  };
  for (Column& c : columns) {
    if (c.numeric()) {
      pick(c.numbers);
    } else {
      pick(c.codes);
    }
  }
  pick(row_ids);
}

namespace {
void require_present(const Table& t, const Column& c, size_t r) {
  if (c.is_missing(r)) {
    size_t n = c.count_missing();
    throw DataError::at_line(t.source, t.row_ids[r],
                             "column '" + c.name + "' has " + std::to_string(n) +
                                 " missing values (this is the first). Impute them (cairn::data::Imputer) or drop those "
                                 "rows (DropMissingRows) before building features.");
  }
}
}  // namespace

Array<float> Table::to_matrix(const std::vector<std::string>& names_in, CategoricalEncoding encoding) const {
  check_consistent();
  std::vector<std::string> names = names_in.empty() ? feature_names() : names_in;
  std::vector<const Column*> cols;
  int64_t width = 0;
  for (const std::string& n : names) {
    const Column& c = column(n);
    cols.push_back(&c);
    width += (!c.numeric() && encoding == CategoricalEncoding::OneHot) ? int64_t(c.categories.size()) : 1;
  }
  Array<float> out{{int64_t(rows()), width}, std::vector<float>(rows() * size_t(width), 0.0f)};
  int64_t offset = 0;
  for (const Column* c : cols) {
    bool hot = !c->numeric() && encoding == CategoricalEncoding::OneHot;
    for (size_t r = 0; r < rows(); ++r) {
      require_present(*this, *c, r);
      float* row = out.data.data() + r * size_t(width) + size_t(offset);
      if (c->numeric()) {
        row[0] = float(c->numbers[r]);
      } else if (hot) {
        row[c->codes[r]] = 1.0f;
      } else {
        row[0] = float(c->codes[r]);
      }
    }
    offset += hot ? int64_t(c->categories.size()) : 1;
  }
  return out;
}

Array<int64_t> Table::labels() const {
  if (label.empty()) throw DataError::in_file(source, "the table has no label column; set CsvOptions::label_column.");
  const Column& c = column(label);
  Array<int64_t> out{{int64_t(rows())}, std::vector<int64_t>(rows())};
  for (size_t r = 0; r < rows(); ++r) {
    require_present(*this, c, r);
    if (c.numeric()) {
      double v = c.numbers[r];
      if (v < 0 || v != std::floor(v) || v > 2147483647.0) {
        throw DataError::at_line(source, row_ids[r],
                                 "label column '" + c.name + "' holds " + c.text(r) +
                                     ", not a class index (a non-negative integer). Declare the label column "
                                     "categorical or give the label classes.");
      }
      out.data[r] = int64_t(v);
    } else {
      out.data[r] = c.codes[r];
    }
  }
  return out;
}

std::vector<std::string> Table::class_names() const {
  if (label.empty()) throw DataError::in_file(source, "the table has no label column; set CsvOptions::label_column.");
  const Column& c = column(label);
  if (!c.numeric()) return c.categories;
  Array<int64_t> l = labels();
  int64_t k = l.data.empty() ? 0 : *std::max_element(l.data.begin(), l.data.end()) + 1;
  std::vector<std::string> out;
  for (int64_t i = 0; i < k; ++i) out.push_back(std::to_string(i));
  return out;
}

Array<float> Table::one_hot(const std::string& name) const {
  const Column& c = column(name);
  if (c.numeric()) {
    throw DataError::in_file(source, "one_hot: column '" + name + "' is " + column_type_name(c.type) +
                                         ", not categorical. Declare it categorical when reading.");
  }
  size_t k = c.categories.size();
  Array<float> out{{int64_t(c.codes.size()), int64_t(k)}, std::vector<float>(c.codes.size() * k, 0.0f)};
  for (size_t r = 0; r < c.codes.size(); ++r) {
    if (c.codes[r] >= 0 && size_t(c.codes[r]) < k) out.data[r * k + size_t(c.codes[r])] = 1.0f;
  }
  return out;
}

}  // namespace cairn::data
