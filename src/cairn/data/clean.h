// Cleaning and preprocessing of Tables: fitted on a training table, applied unchanged to validation/test tables,
// and saved as JSON with a model so serving applies exactly the same steps.
//
//   cairn::data::Pipeline prep;
//   prep.add(std::make_unique<cairn::data::DropDuplicates>());
//   prep.add(std::make_unique<cairn::data::Imputer>());               // numeric: mean, categorical: mode
//   prep.add(std::make_unique<cairn::data::OutlierFilter>(cairn::data::OutlierRule::IQR, 1.5,
//                                                         cairn::data::OutlierAction::Clip));
//   prep.add(std::make_unique<cairn::data::StandardScaler>());
//   for (const auto& r : prep.fit_apply(train)) std::cout << r.to_string();
//   prep.apply(test);
//   save(prep.to_json());  ...  cairn::data::Pipeline again = cairn::data::Pipeline::from_json(json);
//
// Unless columns are named, a step works on every feature column it applies to (numeric steps: Int and Float
// columns; LabelEncoder: categorical ones) and never on the label column; DropMissingRows and DropDuplicates look
// at every column. Every step returns a CleanReport saying exactly what it changed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cairn/data/table.h"

namespace cairn::data {

struct CleanReport {
  std::string step;
  int64_t rows_before = 0;
  int64_t rows_after = 0;
  std::vector<int64_t> dropped_rows;                                // row_ids (CSV line numbers) of removed rows
  std::vector<std::pair<std::string, int64_t>> changed_per_column;  // values changed, per column touched
  std::vector<std::string> notes;                                   // human-readable details
  int64_t changed(const std::string& column) const;                 // 0 if the column is not listed
  std::string to_string() const;
};

class Transform {
 public:
  virtual ~Transform() = default;
  virtual std::string type() const = 0;
  // Learns the step's parameters from `train` (statistics, category lists). Throws DataError if a named
  // column does not exist, has the wrong type, or has no values to learn from.
  virtual void fit(const Table& train) = 0;
  // Transforms `table` in place with the fitted parameters. Throws DataError if the step is not fitted or the
  // table lacks a fitted column or has it with another type.
  virtual CleanReport apply(Table& table) const = 0;
  // {"type": ..., "fitted": bool, ...options and fitted state}; from_json restores an identical step.
  virtual nlohmann::json to_json() const = 0;
  bool fitted() const { return fitted_; }

 protected:
  void require_fitted(const Table& table) const;
  bool fitted_ = false;
};

// Drops rows with a missing value in any of `columns` (default: every column).
class DropMissingRows : public Transform {
 public:
  explicit DropMissingRows(std::vector<std::string> columns = {}) : columns_(std::move(columns)) {}
  std::string type() const override { return "drop_missing"; }
  void fit(const Table& train) override;
  CleanReport apply(Table& table) const override;
  nlohmann::json to_json() const override;
  static std::unique_ptr<DropMissingRows> from_json(const nlohmann::json& j);

 private:
  std::vector<std::string> columns_;
};

enum class ImputeStrategy { Mean, Median, Mode, Constant };

struct ImputeSpec {
  ImputeStrategy strategy = ImputeStrategy::Mean;
  double constant = 0.0;      // Constant, numeric columns
  std::string constant_text;  // Constant, categorical columns
};

// Fills missing values: mean / median (numeric only), mode (most frequent; ties -> the smallest value or
// category name), or a constant. A mean or median that is not integral turns an Int column into Float.
class Imputer : public Transform {
 public:
  Imputer(ImputeStrategy numeric = ImputeStrategy::Mean, ImputeStrategy categorical = ImputeStrategy::Mode,
          std::map<std::string, ImputeSpec> per_column = {});
  std::string type() const override { return "impute"; }
  void fit(const Table& train) override;
  CleanReport apply(Table& table) const override;
  nlohmann::json to_json() const override;
  static std::unique_ptr<Imputer> from_json(const nlohmann::json& j);
  // Fitted fill value of a numeric column / a categorical column (throws std::out_of_range if none).
  double fill_value(const std::string& column) const { return numeric_fill_.at(column); }
  const std::string& fill_text(const std::string& column) const { return text_fill_.at(column); }

 private:
  ImputeStrategy numeric_, categorical_;
  std::map<std::string, ImputeSpec> per_column_;
  std::vector<std::string> order_;  // fitted columns, in table order
  std::map<std::string, double> numeric_fill_;
  std::map<std::string, std::string> text_fill_;
};

enum class OutlierRule { ZScore, IQR };
enum class OutlierAction { Clip, Drop };

// Outliers of numeric columns: ZScore flags |x - mean| > threshold * std (population std); IQR flags x outside
// [Q1 - threshold * IQR, Q3 + threshold * IQR] (quartiles by linear interpolation, as numpy). Clip moves flagged
// values to the bound; Drop removes their rows. Missing values are left alone.
class OutlierFilter : public Transform {
 public:
  OutlierFilter(OutlierRule rule = OutlierRule::IQR, double threshold = 1.5, OutlierAction action = OutlierAction::Clip,
                std::vector<std::string> columns = {});
  std::string type() const override { return "outliers"; }
  void fit(const Table& train) override;
  CleanReport apply(Table& table) const override;
  nlohmann::json to_json() const override;
  static std::unique_ptr<OutlierFilter> from_json(const nlohmann::json& j);
  std::pair<double, double> bounds(const std::string& column) const { return bounds_.at(column); }

 private:
  OutlierRule rule_;
  double threshold_;
  OutlierAction action_;
  std::vector<std::string> columns_;
  std::vector<std::pair<std::string, std::pair<double, double>>> fitted_bounds_;
  std::map<std::string, std::pair<double, double>> bounds_;
};

// Removes rows identical in every column to an earlier row (missing equals missing), keeping the first.
class DropDuplicates : public Transform {
 public:
  std::string type() const override { return "drop_duplicates"; }
  void fit(const Table& train) override;
  CleanReport apply(Table& table) const override;
  nlohmann::json to_json() const override;
  static std::unique_ptr<DropDuplicates> from_json(const nlohmann::json& j);
};

// x -> (x - mean) / std with the training mean and population std (a constant column is only centred).
class StandardScaler : public Transform {
 public:
  explicit StandardScaler(std::vector<std::string> columns = {}) : columns_(std::move(columns)) {}
  std::string type() const override { return "standardize"; }
  void fit(const Table& train) override;
  CleanReport apply(Table& table) const override;
  nlohmann::json to_json() const override;
  static std::unique_ptr<StandardScaler> from_json(const nlohmann::json& j);
  std::pair<double, double> mean_std(const std::string& column) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::pair<std::string, std::pair<double, double>>> stats_;  // name -> (mean, std)
};

// x -> (x - min) / (max - min) with the training min and max (a constant column maps to 0). Test values may
// fall outside [0, 1].
class MinMaxScaler : public Transform {
 public:
  explicit MinMaxScaler(std::vector<std::string> columns = {}) : columns_(std::move(columns)) {}
  std::string type() const override { return "minmax"; }
  void fit(const Table& train) override;
  CleanReport apply(Table& table) const override;
  nlohmann::json to_json() const override;
  static std::unique_ptr<MinMaxScaler> from_json(const nlohmann::json& j);
  std::pair<double, double> min_max(const std::string& column) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::pair<std::string, std::pair<double, double>>> stats_;  // name -> (min, max)
};

// Fixes the category list (class names, sorted) of categorical columns from the training table, so every table
// uses the same indices. Applied to another table, its codes are remapped; a category unseen in training becomes
// missing (unknown = Missing) or raises DataError naming the line (unknown = Error).
// With include_label, the label column is encoded too (unknown labels always raise).
class LabelEncoder : public Transform {
 public:
  enum class Unknown { Error, Missing };
  explicit LabelEncoder(std::vector<std::string> columns = {}, Unknown unknown = Unknown::Error, bool include_label = true)
      : columns_(std::move(columns)), unknown_(unknown), include_label_(include_label) {}
  std::string type() const override { return "label_encode"; }
  void fit(const Table& train) override;
  CleanReport apply(Table& table) const override;
  nlohmann::json to_json() const override;
  static std::unique_ptr<LabelEncoder> from_json(const nlohmann::json& j);
  const std::vector<std::string>& classes(const std::string& column) const;

 private:
  std::vector<std::string> columns_;
  Unknown unknown_;
  bool include_label_;
  std::vector<std::pair<std::string, std::vector<std::string>>> classes_;
};

// An ordered list of steps. fit_apply fits each step on the output of the steps before it (as scikit-learn's
// Pipeline does) and applies it; apply runs the fitted steps.
class Pipeline {
 public:
  Pipeline& add(std::unique_ptr<Transform> step);
  std::vector<CleanReport> fit_apply(Table& train);
  std::vector<CleanReport> apply(Table& table) const;
  size_t size() const { return steps_.size(); }
  const Transform& step(size_t i) const { return *steps_.at(i); }
  // {"format": "cairn.preprocess", "version": 1, "steps": [...]}
  nlohmann::json to_json() const;
  // Throws DataError for an unknown format, version or step type, or a malformed step.
  static Pipeline from_json(const nlohmann::json& j);

 private:
  std::vector<std::unique_ptr<Transform>> steps_;
};

}  // namespace cairn::data
