// Table: named, typed columns held column-wise (what the CSV reader produces and the cleaning steps transform).
//
// Numeric columns (Int, Float) store doubles with NaN meaning "missing"; categorical columns store an index into
// `categories` with -1 meaning "missing". Every row remembers where it came from (`row_ids`: the line number in
// the source file for CSV tables), so reports can say "line 17" after rows have been dropped or reordered.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cairn/data/array.h"

namespace cairn::data {

enum class ColumnType {
  Float,        // real numbers
  Int,          // numbers whose every present value is integral (stored as double, exact up to 2^53)
  Categorical,  // text values, stored as indices into Column::categories
};
const char* column_type_name(ColumnType type);

struct Column {
  std::string name;
  ColumnType type = ColumnType::Float;
  std::vector<double> numbers;          // Float/Int: one value per row, NaN = missing
  std::vector<int32_t> codes;           // Categorical: one index per row, -1 = missing
  std::vector<std::string> categories;  // Categorical: class names, codes index into it

  bool numeric() const { return type != ColumnType::Categorical; }
  size_t size() const { return numeric() ? numbers.size() : codes.size(); }
  bool is_missing(size_t row) const { return numeric() ? std::isnan(numbers[row]) : codes[row] < 0; }
  size_t count_missing() const;
  // The value of a row as text ("" when missing), e.g. for reports.
  std::string text(size_t row) const;
};

enum class CategoricalEncoding {
  Index,   // one feature: the category index as a float
  OneHot,  // one feature per category (0/1)
};

struct Table {
  std::vector<Column> columns;
  std::vector<int64_t> row_ids;  // per row: source line number (CSV) or row index; same length as every column
  std::string label;             // name of the label column, "" if none
  std::string source;            // file the table was read from, for messages

  size_t rows() const { return row_ids.size(); }
  // Throws DataError listing the available names if there is no such column.
  Column& column(const std::string& name);
  const Column& column(const std::string& name) const;
  bool has_column(const std::string& name) const;
  std::vector<std::string> column_names() const;
  // Names of the columns other than the label column.
  std::vector<std::string> feature_names() const;

  // Keeps the given rows in the given order (indices into the current rows). Throws std::out_of_range.
  void select_rows(const std::vector<size_t>& keep);
  // Throws DataError if columns have different lengths than row_ids (a broken hand-built table).
  void check_consistent() const;

  // Features as a (rows, F) float matrix, columns in the given order (default: feature_names()); a categorical
  // column becomes one feature (Index) or one per category (OneHot). Throws DataError if a selected value is
  // missing, naming the column and the first line: impute or drop missing values first.
  Array<float> to_matrix(const std::vector<std::string>& columns = {},
                         CategoricalEncoding encoding = CategoricalEncoding::OneHot) const;
  // The label column as class indices (categorical: code; Int: the value). Throws DataError if there is no
  // label column, a label is missing, or a numeric label is not a non-negative integer.
  Array<int64_t> labels() const;
  // Class names of the label column (categorical), or "0".."K-1" for integer labels.
  std::vector<std::string> class_names() const;
  // One-hot matrix (rows, categories) of a categorical column; missing rows are all zeros.
  Array<float> one_hot(const std::string& column) const;
};

}  // namespace cairn::data
