// Internal helpers shared by the cleaning steps.
#pragma once

#include <string>
#include <vector>

#include "cairn/data/table.h"

namespace cairn::data::clean_detail {

// The named column, or DataError listing the columns the table has.
Column& require_column(Table& table, const std::string& name);
const Column& require_column(const Table& table, const std::string& name);
// The named columns (each must be numeric if numeric_only), or, when `names` is empty, every non-label column
// of the right kind (numeric, or categorical when numeric_only is false and categorical_only is true).
std::vector<const Column*> select_columns(const Table& table, const std::vector<std::string>& names, bool numeric_only,
                                          bool categorical_only = false);
// The non-missing values of a numeric column.
std::vector<double> present_values(const Column& c);
// Quantile q of sorted values by linear interpolation between closest ranks (numpy's default).
double quantile(const std::vector<double>& sorted, double q);
// "lines 3, 7, 9" (at most 10 listed, then "... (N in all)").
std::string lines_note(const std::vector<int64_t>& lines);

}  // namespace cairn::data::clean_detail
