// Cleaning steps that change which rows exist or fill/clip values: missing rows, imputation, outliers, duplicates.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "cairn/data/clean.h"
#include "cairn/data/clean_util.h"
#include "cairn/data/error.h"

namespace cairn::data {

using clean_detail::lines_note;
using clean_detail::present_values;
using clean_detail::quantile;
using clean_detail::require_column;
using clean_detail::select_columns;

int64_t CleanReport::changed(const std::string& column) const {
  for (const auto& [name, n] : changed_per_column) {
    if (name == column) return n;
  }
  return 0;
}

std::string CleanReport::to_string() const {
  std::string s = step + ": " + std::to_string(rows_before) + " rows -> " + std::to_string(rows_after);
  if (!dropped_rows.empty()) s += " (" + std::to_string(dropped_rows.size()) + " dropped: " + lines_note(dropped_rows) + ")";
  s += "\n";
  for (const auto& [name, n] : changed_per_column) {
    if (n > 0) s += "  " + name + ": " + std::to_string(n) + " values changed\n";
  }
  for (const std::string& note : notes) s += "  " + note + "\n";
  return s;
}

void Transform::require_fitted(const Table& table) const {
  if (!fitted_) {
    throw DataError::in_file(table.source, "preprocessing step '" + type() + "' applied before fit(); fit it on the "
                                           "training table first (or load a fitted pipeline).");
  }
}

// ---- DropMissingRows ----

void DropMissingRows::fit(const Table& train) {
  for (const std::string& c : columns_) require_column(train, c);
  fitted_ = true;
}

CleanReport DropMissingRows::apply(Table& table) const {
  require_fitted(table);
  CleanReport rep{type(), int64_t(table.rows()), 0, {}, {}, {}};
  std::vector<const Column*> cols;
  if (columns_.empty()) {
    for (const Column& c : table.columns) cols.push_back(&c);
  } else {
    for (const std::string& name : columns_) cols.push_back(&require_column(table, name));
  }
  std::vector<int64_t> per_col(cols.size(), 0);
  std::vector<size_t> keep;
  for (size_t r = 0; r < table.rows(); ++r) {
    bool missing = false;
    for (size_t k = 0; k < cols.size(); ++k) {
      if (cols[k]->is_missing(r)) {
        missing = true;
        ++per_col[k];
      }
    }
    if (missing) rep.dropped_rows.push_back(table.row_ids[r]);
    else keep.push_back(r);
  }
  for (size_t k = 0; k < cols.size(); ++k) {
    if (per_col[k] > 0) rep.notes.push_back(cols[k]->name + ": " + std::to_string(per_col[k]) + " missing");
  }
  table.select_rows(keep);
  rep.rows_after = int64_t(table.rows());
  return rep;
}

nlohmann::json DropMissingRows::to_json() const { return {{"type", type()}, {"fitted", fitted_}, {"columns", columns_}}; }

std::unique_ptr<DropMissingRows> DropMissingRows::from_json(const nlohmann::json& j) {
  auto d = std::make_unique<DropMissingRows>(j.at("columns").get<std::vector<std::string>>());
  d->fitted_ = j.at("fitted").get<bool>();
  return d;
}

// ---- Imputer ----

namespace {
const char* strategy_name(ImputeStrategy s) {
  switch (s) {
    case ImputeStrategy::Mean: return "mean";
    case ImputeStrategy::Median: return "median";
    case ImputeStrategy::Mode: return "mode";
    case ImputeStrategy::Constant: return "constant";
  }
  return "?";
}
ImputeStrategy strategy_from(const std::string& s) {
  if (s == "mean") return ImputeStrategy::Mean;
  if (s == "median") return ImputeStrategy::Median;
  if (s == "mode") return ImputeStrategy::Mode;
  if (s == "constant") return ImputeStrategy::Constant;
  throw DataError::in_file("", "unknown impute strategy '" + s + "' (expected mean, median, mode or constant).");
}
std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Shortest form that round-trips, for readable reports.
  for (int p = 1; p < 17; ++p) {
    char b2[64];
    std::snprintf(b2, sizeof b2, "%.*g", p, v);
    if (std::strtod(b2, nullptr) == v) return b2;
  }
  return buf;
}
}  // namespace

Imputer::Imputer(ImputeStrategy numeric, ImputeStrategy categorical, std::map<std::string, ImputeSpec> per_column)
    : numeric_(numeric), categorical_(categorical), per_column_(std::move(per_column)) {}

void Imputer::fit(const Table& train) {
  order_.clear();
  numeric_fill_.clear();
  text_fill_.clear();
  for (const auto& [name, spec] : per_column_) require_column(train, name);
  for (const Column& c : train.columns) {
    if (c.name == train.label && !per_column_.count(c.name)) continue;
    auto it = per_column_.find(c.name);
    ImputeSpec spec = it != per_column_.end() ? it->second : ImputeSpec{c.numeric() ? numeric_ : categorical_, 0.0, ""};
    if (c.numeric()) {
      std::vector<double> v = present_values(c);
      double fill = spec.constant;
      if (spec.strategy != ImputeStrategy::Constant && v.empty()) {
        throw DataError::in_file(train.source, "column '" + c.name + "' has no values to compute its " +
                                                   strategy_name(spec.strategy) +
                                                   " from; impute it with a constant or drop the column.");
      }
      if (spec.strategy == ImputeStrategy::Mean) {
        double sum = 0;
        for (double x : v) sum += x;
        fill = sum / double(v.size());
      } else if (spec.strategy == ImputeStrategy::Median) {
        std::sort(v.begin(), v.end());
        fill = quantile(v, 0.5);
      } else if (spec.strategy == ImputeStrategy::Mode) {
        std::sort(v.begin(), v.end());
        size_t best = 0, best_n = 0;
        for (size_t i = 0, j; i < v.size(); i = j) {
          for (j = i; j < v.size() && v[j] == v[i]; ++j) {
          }
          if (j - i > best_n) {  // strictly greater: ties keep the smallest value
            best = i;
            best_n = j - i;
          }
        }
        fill = v[best];
      }
      numeric_fill_[c.name] = fill;
    } else {
      std::string fill = spec.constant_text;
      if (spec.strategy == ImputeStrategy::Mean || spec.strategy == ImputeStrategy::Median) {
        throw DataError::in_file(train.source, std::string("cannot impute categorical column '") + c.name + "' with the " +
                                                   strategy_name(spec.strategy) + "; use mode or constant.");
      }
      if (spec.strategy == ImputeStrategy::Mode) {
        std::vector<int64_t> counts(c.categories.size(), 0);
        for (int32_t code : c.codes) {
          if (code >= 0) ++counts[size_t(code)];
        }
        int64_t best = -1;
        for (size_t k = 0; k < counts.size(); ++k) {
          if (counts[k] == 0) continue;
          if (best < 0 || counts[k] > counts[size_t(best)] ||
              (counts[k] == counts[size_t(best)] && c.categories[k] < c.categories[size_t(best)])) {
            best = int64_t(k);
          }
        }
        if (best < 0) {
          throw DataError::in_file(train.source, "column '" + c.name + "' has no values to compute its mode from; "
                                                 "impute it with a constant or drop the column.");
        }
        fill = c.categories[size_t(best)];
      }
      text_fill_[c.name] = fill;
    }
    order_.push_back(c.name);
  }
  fitted_ = true;
}

CleanReport Imputer::apply(Table& table) const {
  require_fitted(table);
  CleanReport rep{type(), int64_t(table.rows()), int64_t(table.rows()), {}, {}, {}};
  for (const std::string& name : order_) {
    Column& c = require_column(table, name);
    const bool fitted_numeric = numeric_fill_.count(name) > 0;
    if (c.numeric() != fitted_numeric) {
      throw DataError::in_file(table.source, "column '" + name + "' is " + column_type_name(c.type) +
                                                 " here but was " + (fitted_numeric ? "numeric" : "categorical") +
                                                 " when the imputer was fitted. Read both tables with the same column types.");
    }
    std::vector<int64_t> lines;
    if (fitted_numeric) {
      const double fill = numeric_fill_.at(name);
      for (size_t r = 0; r < c.numbers.size(); ++r) {
        if (std::isnan(c.numbers[r])) {
          c.numbers[r] = fill;
          lines.push_back(table.row_ids[r]);
        }
      }
      if (!lines.empty() && c.type == ColumnType::Int && fill != std::trunc(fill)) c.type = ColumnType::Float;
      if (!lines.empty()) rep.notes.push_back(name + ": " + std::to_string(lines.size()) + " imputed with " + format_number(fill) +
                                              " (" + lines_note(lines) + ")");
    } else {
      const std::string& fill = text_fill_.at(name);
      int32_t code = -1;
      for (size_t k = 0; k < c.categories.size(); ++k) {
        if (c.categories[k] == fill) code = int32_t(k);
      }
      for (size_t r = 0; r < c.codes.size(); ++r) {
        if (c.codes[r] < 0) {
          if (code < 0) {
            code = int32_t(c.categories.size());
            c.categories.push_back(fill);
          }
          c.codes[r] = code;
          lines.push_back(table.row_ids[r]);
        }
      }
      if (!lines.empty()) rep.notes.push_back(name + ": " + std::to_string(lines.size()) + " imputed with '" + fill + "' (" +
                                              lines_note(lines) + ")");
    }
    rep.changed_per_column.emplace_back(name, int64_t(lines.size()));
  }
  return rep;
}

nlohmann::json Imputer::to_json() const {
  nlohmann::json per = nlohmann::json::object();
  for (const auto& [name, s] : per_column_) {
    per[name] = {{"strategy", strategy_name(s.strategy)}, {"constant", s.constant}, {"constant_text", s.constant_text}};
  }
  nlohmann::json fill = nlohmann::json::array();
  for (const std::string& name : order_) {
    if (numeric_fill_.count(name)) fill.push_back({{"column", name}, {"value", numeric_fill_.at(name)}});
    else fill.push_back({{"column", name}, {"text", text_fill_.at(name)}});
  }
  return {{"type", type()}, {"fitted", fitted_}, {"numeric", strategy_name(numeric_)},
          {"categorical", strategy_name(categorical_)}, {"per_column", per}, {"fill", fill}};
}

std::unique_ptr<Imputer> Imputer::from_json(const nlohmann::json& j) {
  std::map<std::string, ImputeSpec> per;
  for (const auto& [name, s] : j.at("per_column").items()) {
    per[name] = {strategy_from(s.at("strategy").get<std::string>()), s.at("constant").get<double>(),
                 s.at("constant_text").get<std::string>()};
  }
  auto imp = std::make_unique<Imputer>(strategy_from(j.at("numeric").get<std::string>()),
                                       strategy_from(j.at("categorical").get<std::string>()), per);
  for (const auto& f : j.at("fill")) {
    std::string name = f.at("column").get<std::string>();
    if (f.contains("value")) imp->numeric_fill_[name] = f.at("value").get<double>();
    else imp->text_fill_[name] = f.at("text").get<std::string>();
    imp->order_.push_back(name);
  }
  imp->fitted_ = j.at("fitted").get<bool>();
  return imp;
}

// ---- OutlierFilter ----

OutlierFilter::OutlierFilter(OutlierRule rule, double threshold, OutlierAction action, std::vector<std::string> columns)
    : rule_(rule), threshold_(threshold), action_(action), columns_(std::move(columns)) {}

void OutlierFilter::fit(const Table& train) {
  bounds_.clear();
  fitted_bounds_.clear();
  for (const Column* c : select_columns(train, columns_, true)) {
    std::vector<double> v = present_values(*c);
    if (v.empty()) {
      throw DataError::in_file(train.source, "column '" + c->name + "' has no values; cannot fit outlier bounds.");
    }
    double lo, hi;
    if (rule_ == OutlierRule::ZScore) {
      double mean = 0, var = 0;
      for (double x : v) mean += x;
      mean /= double(v.size());
      for (double x : v) var += (x - mean) * (x - mean);
      double sd = std::sqrt(var / double(v.size()));
      lo = mean - threshold_ * sd;
      hi = mean + threshold_ * sd;
    } else {
      std::sort(v.begin(), v.end());
      double q1 = quantile(v, 0.25), q3 = quantile(v, 0.75);
      lo = q1 - threshold_ * (q3 - q1);
      hi = q3 + threshold_ * (q3 - q1);
    }
    bounds_[c->name] = {lo, hi};
    fitted_bounds_.push_back({c->name, {lo, hi}});
  }
  fitted_ = true;
}

CleanReport OutlierFilter::apply(Table& table) const {
  require_fitted(table);
  CleanReport rep{type(), int64_t(table.rows()), 0, {}, {}, {}};
  std::vector<bool> drop(table.rows(), false);
  for (const auto& [name, b] : fitted_bounds_) {
    Column& c = require_column(table, name);
    if (!c.numeric()) throw DataError::in_file(table.source, "column '" + name + "' is not numeric here; cannot filter outliers.");
    int64_t n = 0;
    for (size_t r = 0; r < c.numbers.size(); ++r) {
      double& x = c.numbers[r];
      if (std::isnan(x) || (x >= b.first && x <= b.second)) continue;
      ++n;
      if (action_ == OutlierAction::Drop) {
        drop[r] = true;
      } else {
        x = x < b.first ? b.first : b.second;
        if (c.type == ColumnType::Int && x != std::trunc(x)) c.type = ColumnType::Float;
      }
    }
    rep.changed_per_column.emplace_back(name, n);
    if (n > 0) {
      rep.notes.push_back(name + ": " + std::to_string(n) + " outside [" + format_number(b.first) + ", " +
                          format_number(b.second) + "] " + (action_ == OutlierAction::Drop ? "(rows dropped)" : "clipped"));
    }
  }
  std::vector<size_t> keep;
  for (size_t r = 0; r < table.rows(); ++r) {
    if (drop[r]) rep.dropped_rows.push_back(table.row_ids[r]);
    else keep.push_back(r);
  }
  if (!rep.dropped_rows.empty()) table.select_rows(keep);
  rep.rows_after = int64_t(table.rows());
  return rep;
}

nlohmann::json OutlierFilter::to_json() const {
  nlohmann::json b = nlohmann::json::array();
  for (const auto& [name, lh] : fitted_bounds_) b.push_back({{"column", name}, {"low", lh.first}, {"high", lh.second}});
  return {{"type", type()},
          {"fitted", fitted_},
          {"rule", rule_ == OutlierRule::ZScore ? "zscore" : "iqr"},
          {"threshold", threshold_},
          {"action", action_ == OutlierAction::Clip ? "clip" : "drop"},
          {"columns", columns_},
          {"bounds", b}};
}

std::unique_ptr<OutlierFilter> OutlierFilter::from_json(const nlohmann::json& j) {
  std::string rule = j.at("rule").get<std::string>(), action = j.at("action").get<std::string>();
  if ((rule != "zscore" && rule != "iqr") || (action != "clip" && action != "drop")) {
    throw DataError::in_file("", "outlier step: unknown rule '" + rule + "' or action '" + action + "'.");
  }
  auto f = std::make_unique<OutlierFilter>(rule == "zscore" ? OutlierRule::ZScore : OutlierRule::IQR,
                                           j.at("threshold").get<double>(),
                                           action == "clip" ? OutlierAction::Clip : OutlierAction::Drop,
                                           j.at("columns").get<std::vector<std::string>>());
  for (const auto& b : j.at("bounds")) {
    std::string name = b.at("column").get<std::string>();
    std::pair<double, double> lh{b.at("low").get<double>(), b.at("high").get<double>()};
    f->bounds_[name] = lh;
    f->fitted_bounds_.push_back({name, lh});
  }
  f->fitted_ = j.at("fitted").get<bool>();
  return f;
}

// ---- DropDuplicates ----

void DropDuplicates::fit(const Table&) { fitted_ = true; }

CleanReport DropDuplicates::apply(Table& table) const {
  require_fitted(table);
  CleanReport rep{type(), int64_t(table.rows()), 0, {}, {}, {}};
  table.check_consistent();
  std::unordered_map<std::string, size_t> first;
  std::vector<size_t> keep;
  std::string key;
  for (size_t r = 0; r < table.rows(); ++r) {
    key.clear();
    for (const Column& c : table.columns) {
      if (c.numeric()) {
        double v = c.numbers[r];
        if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();  // every NaN is the same "missing"
        if (v == 0) v = 0.0;                                               // -0 equals 0
        key.append(reinterpret_cast<const char*>(&v), sizeof v);
      } else {
        key.append(reinterpret_cast<const char*>(&c.codes[r]), sizeof(int32_t));
      }
    }
    auto [it, inserted] = first.emplace(key, r);
    if (inserted) {
      keep.push_back(r);
    } else {
      rep.dropped_rows.push_back(table.row_ids[r]);
      if (rep.notes.size() < 20) {
        rep.notes.push_back("row " + std::to_string(table.row_ids[r]) + " duplicates row " +
                            std::to_string(table.row_ids[it->second]));
      }
    }
  }
  table.select_rows(keep);
  rep.rows_after = int64_t(table.rows());
  return rep;
}

nlohmann::json DropDuplicates::to_json() const { return {{"type", type()}, {"fitted", fitted_}}; }

std::unique_ptr<DropDuplicates> DropDuplicates::from_json(const nlohmann::json& j) {
  auto d = std::make_unique<DropDuplicates>();
  d->fitted_ = j.at("fitted").get<bool>();
  return d;
}

}  // namespace cairn::data
