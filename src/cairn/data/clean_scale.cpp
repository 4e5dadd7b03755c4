// Scaling and encoding steps, the shared helpers, and the Pipeline with its JSON form.
#include <algorithm>
#include <cmath>
#include <map>

#include "cairn/data/clean.h"
#include "cairn/data/clean_util.h"
#include "cairn/data/error.h"

namespace cairn::data {

namespace clean_detail {

const Column& require_column(const Table& table, const std::string& name) {
  return table.column(name);  // throws DataError listing the columns
}
Column& require_column(Table& table, const std::string& name) { return table.column(name); }

std::vector<const Column*> select_columns(const Table& table, const std::vector<std::string>& names, bool numeric_only,
                                          bool categorical_only) {
  std::vector<const Column*> out;
  if (names.empty()) {
    for (const Column& c : table.columns) {
      if (c.name == table.label) continue;
      if ((numeric_only && !c.numeric()) || (categorical_only && c.numeric())) continue;
      out.push_back(&c);
    }
    return out;
  }
  for (const std::string& n : names) {
    const Column& c = table.column(n);
    if (numeric_only && !c.numeric()) {
      throw DataError::in_file(table.source, "column '" + n + "' is categorical; this step needs a numeric column.");
    }
    if (categorical_only && c.numeric()) {
      throw DataError::in_file(table.source, "column '" + n + "' is " + column_type_name(c.type) +
                                                 "; this step needs a categorical column (declare it categorical when reading).");
    }
    out.push_back(&c);
  }
  return out;
}

std::vector<double> present_values(const Column& c) {
  std::vector<double> v;
  v.reserve(c.numbers.size());
  for (double x : c.numbers) {
    if (!std::isnan(x)) v.push_back(x);
  }
  return v;
}

double quantile(const std::vector<double>& s, double q) {
  if (s.empty()) return std::nan("");
  double pos = q * double(s.size() - 1);
  size_t lo = size_t(std::floor(pos));
  size_t hi = std::min(lo + 1, s.size() - 1);
  double frac = pos - double(lo);
  return s[lo] + frac * (s[hi] - s[lo]);
}

std::string lines_note(const std::vector<int64_t>& lines) {
  std::string s = lines.size() == 1 ? "line " : "lines ";
  for (size_t i = 0; i < lines.size() && i < 10; ++i) s += (i ? ", " : "") + std::to_string(lines[i]);
  if (lines.size() > 10) s += ", ... (" + std::to_string(lines.size()) + " in all)";
  return s;
}

}  // namespace clean_detail

using clean_detail::present_values;
using clean_detail::require_column;
using clean_detail::select_columns;

namespace {

using Stats = std::vector<std::pair<std::string, std::pair<double, double>>>;

nlohmann::json stats_json(const Stats& stats, const char* a, const char* b) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, v] : stats) out.push_back({{"column", name}, {a, v.first}, {b, v.second}});
  return out;
}
Stats stats_from(const nlohmann::json& j, const char* a, const char* b) {
  Stats out;
  for (const auto& s : j) out.push_back({s.at("column").get<std::string>(), {s.at(a).get<double>(), s.at(b).get<double>()}});
  return out;
}
std::pair<double, double> find_stats(const Stats& stats, const std::string& column) {
  for (const auto& [name, v] : stats) {
    if (name == column) return v;
  }
  throw std::out_of_range("no fitted statistics for column '" + column + "'");
}

// x -> (x - shift) / scale for the present values of each fitted column.
CleanReport scale_columns(Table& table, const Stats& stats, const std::string& step, bool minmax) {
  CleanReport rep{step, int64_t(table.rows()), int64_t(table.rows()), {}, {}, {}};
  for (const auto& [name, v] : stats) {
    Column& c = require_column(table, name);
    if (!c.numeric()) throw DataError::in_file(table.source, "column '" + name + "' is not numeric here; cannot scale it.");
    double shift = v.first;
    double scale = minmax ? v.second - v.first : v.second;
    if (!(scale > 0)) scale = 1.0;  // a constant column is only shifted
    int64_t n = 0;
    for (double& x : c.numbers) {
      if (std::isnan(x)) continue;
      x = (x - shift) / scale;
      ++n;
    }
    c.type = ColumnType::Float;
    rep.changed_per_column.emplace_back(name, n);
  }
  return rep;
}

}  // namespace

// ---- StandardScaler ----

void StandardScaler::fit(const Table& train) {
  stats_.clear();
  for (const Column* c : select_columns(train, columns_, true)) {
    std::vector<double> v = present_values(*c);
    if (v.empty()) throw DataError::in_file(train.source, "column '" + c->name + "' has no values; cannot fit a scaler.");
    double mean = 0, var = 0;
    for (double x : v) mean += x;
    mean /= double(v.size());
    for (double x : v) var += (x - mean) * (x - mean);
    stats_.push_back({c->name, {mean, std::sqrt(var / double(v.size()))}});
  }
  fitted_ = true;
}

CleanReport StandardScaler::apply(Table& table) const {
  require_fitted(table);
  return scale_columns(table, stats_, type(), false);
}

std::pair<double, double> StandardScaler::mean_std(const std::string& column) const { return find_stats(stats_, column); }

nlohmann::json StandardScaler::to_json() const {
  return {{"type", type()}, {"fitted", fitted_}, {"columns", columns_}, {"stats", stats_json(stats_, "mean", "std")}};
}

std::unique_ptr<StandardScaler> StandardScaler::from_json(const nlohmann::json& j) {
  auto s = std::make_unique<StandardScaler>(j.at("columns").get<std::vector<std::string>>());
  s->stats_ = stats_from(j.at("stats"), "mean", "std");
  s->fitted_ = j.at("fitted").get<bool>();
  return s;
}

// ---- MinMaxScaler ----

void MinMaxScaler::fit(const Table& train) {
  stats_.clear();
  for (const Column* c : select_columns(train, columns_, true)) {
    std::vector<double> v = present_values(*c);
    if (v.empty()) throw DataError::in_file(train.source, "column '" + c->name + "' has no values; cannot fit a scaler.");
    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    stats_.push_back({c->name, {*lo, *hi}});
  }
  fitted_ = true;
}

CleanReport MinMaxScaler::apply(Table& table) const {
  require_fitted(table);
  return scale_columns(table, stats_, type(), true);
}

std::pair<double, double> MinMaxScaler::min_max(const std::string& column) const { return find_stats(stats_, column); }

nlohmann::json MinMaxScaler::to_json() const {
  return {{"type", type()}, {"fitted", fitted_}, {"columns", columns_}, {"stats", stats_json(stats_, "min", "max")}};
}

std::unique_ptr<MinMaxScaler> MinMaxScaler::from_json(const nlohmann::json& j) {
  auto s = std::make_unique<MinMaxScaler>(j.at("columns").get<std::vector<std::string>>());
  s->stats_ = stats_from(j.at("stats"), "min", "max");
  s->fitted_ = j.at("fitted").get<bool>();
  return s;
}

// ---- LabelEncoder ----

void LabelEncoder::fit(const Table& train) {
  classes_.clear();
  std::vector<const Column*> cols = select_columns(train, columns_, false, true);
  if (columns_.empty() && include_label_ && !train.label.empty()) {
    const Column& l = train.column(train.label);
    if (!l.numeric()) cols.push_back(&l);
  }
  for (const Column* c : cols) {
    std::vector<bool> used(c->categories.size(), false);
    for (int32_t code : c->codes) {
      if (code >= 0) used[size_t(code)] = true;
    }
    std::vector<std::string> names;
    for (size_t k = 0; k < used.size(); ++k) {
      if (used[k]) names.push_back(c->categories[k]);
    }
    std::sort(names.begin(), names.end());
    classes_.push_back({c->name, names});
  }
  fitted_ = true;
}

const std::vector<std::string>& LabelEncoder::classes(const std::string& column) const {
  for (const auto& [name, names] : classes_) {
    if (name == column) return names;
  }
  throw std::out_of_range("LabelEncoder: no fitted classes for column '" + column + "'");
}

CleanReport LabelEncoder::apply(Table& table) const {
  require_fitted(table);
  CleanReport rep{type(), int64_t(table.rows()), int64_t(table.rows()), {}, {}, {}};
  for (const auto& [name, names] : classes_) {
    Column& c = require_column(table, name);
    if (c.numeric()) {
      throw DataError::in_file(table.source, "column '" + name + "' is " + column_type_name(c.type) +
                                                 " here but categorical when the encoder was fitted.");
    }
    std::map<std::string, int32_t> index;
    for (size_t k = 0; k < names.size(); ++k) index.emplace(names[k], int32_t(k));
    std::vector<int32_t> remap(c.categories.size(), -1);
    for (size_t k = 0; k < c.categories.size(); ++k) {
      auto it = index.find(c.categories[k]);
      if (it != index.end()) remap[k] = it->second;
    }
    int64_t changed = 0;
    std::vector<int64_t> unknown_lines;
    std::string first_unknown;
    for (size_t r = 0; r < c.codes.size(); ++r) {
      int32_t old = c.codes[r];
      if (old < 0) continue;
      int32_t now = remap[size_t(old)];
      if (now < 0) {
        if (unknown_ == Unknown::Error || name == table.label) {
          throw DataError::at_line(table.source, table.row_ids[r],
                                   "column '" + name + "': category '" + c.categories[size_t(old)] +
                                       "' was not seen when the encoder was fitted. Add such rows to the training data, "
                                       "or use LabelEncoder::Unknown::Missing for feature columns.");
        }
        if (unknown_lines.empty()) first_unknown = c.categories[size_t(old)];
        unknown_lines.push_back(table.row_ids[r]);
      }
      if (now != old) ++changed;
      c.codes[r] = now;
    }
    c.categories = names;
    rep.changed_per_column.emplace_back(name, changed);
    if (!unknown_lines.empty()) {
      rep.notes.push_back(name + ": " + std::to_string(unknown_lines.size()) + " values of categories unseen in training (e.g. '" +
                          first_unknown + "') set to missing (" + clean_detail::lines_note(unknown_lines) + ")");
    }
  }
  return rep;
}

nlohmann::json LabelEncoder::to_json() const {
  nlohmann::json cls = nlohmann::json::array();
  for (const auto& [name, names] : classes_) cls.push_back({{"column", name}, {"classes", names}});
  return {{"type", type()},
          {"fitted", fitted_},
          {"columns", columns_},
          {"unknown", unknown_ == Unknown::Error ? "error" : "missing"},
          {"include_label", include_label_},
          {"classes", cls}};
}

std::unique_ptr<LabelEncoder> LabelEncoder::from_json(const nlohmann::json& j) {
  auto e = std::make_unique<LabelEncoder>(j.at("columns").get<std::vector<std::string>>(),
                                          j.at("unknown").get<std::string>() == "missing" ? Unknown::Missing : Unknown::Error,
                                          j.at("include_label").get<bool>());
  for (const auto& c : j.at("classes")) {
    e->classes_.push_back({c.at("column").get<std::string>(), c.at("classes").get<std::vector<std::string>>()});
  }
  e->fitted_ = j.at("fitted").get<bool>();
  return e;
}

// ---- Pipeline ----

Pipeline& Pipeline::add(std::unique_ptr<Transform> step) {
  steps_.push_back(std::move(step));
  return *this;
}

std::vector<CleanReport> Pipeline::fit_apply(Table& train) {
  std::vector<CleanReport> out;
  for (auto& s : steps_) {
    s->fit(train);
    out.push_back(s->apply(train));
  }
  return out;
}

std::vector<CleanReport> Pipeline::apply(Table& table) const {
  std::vector<CleanReport> out;
  for (const auto& s : steps_) out.push_back(s->apply(table));
  return out;
}

nlohmann::json Pipeline::to_json() const {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : steps_) steps.push_back(s->to_json());
  return {{"format", "cairn.preprocess"}, {"version", 1}, {"steps", steps}};
}

Pipeline Pipeline::from_json(const nlohmann::json& j) {
  try {
    if (!j.is_object() || j.value("format", "") != "cairn.preprocess" || j.value("version", 0) != 1) {
      throw DataError::in_file("", "not a Cairn preprocessing pipeline (expected \"format\": \"cairn.preprocess\", "
                                   "\"version\": 1).");
    }
    Pipeline p;
    for (const auto& s : j.at("steps")) {
      const std::string t = s.at("type").get<std::string>();
      std::unique_ptr<Transform> step;
      if (t == "drop_missing") {
        step = DropMissingRows::from_json(s);
      } else if (t == "drop_duplicates") {
        step = DropDuplicates::from_json(s);
      } else if (t == "impute") {
        step = Imputer::from_json(s);
      } else if (t == "outliers") {
        step = OutlierFilter::from_json(s);
      } else if (t == "standardize") {
        step = StandardScaler::from_json(s);
      } else if (t == "minmax") {
        step = MinMaxScaler::from_json(s);
      } else if (t == "label_encode") {
        step = LabelEncoder::from_json(s);
      } else {
        throw DataError::in_file("", "unknown preprocessing step type '" + t + "'.");
      }
      p.add(std::move(step));
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw DataError::in_file("", std::string("malformed preprocessing pipeline JSON: ") + e.what());
  }
}

}  // namespace cairn::data
