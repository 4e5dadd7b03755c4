// Streaming metrics for training and evaluation (Keras names). Each metric accumulates over batches
// (update) and reports one number (result); reset() starts a new epoch.
//
//   auto acc = make_metric("accuracy");          // picks binary / categorical / sparse from the shapes
//   acc->update(logits, labels); acc->result();
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cairn/core/tensor/tensor.h"

namespace cairn::train {

class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;
  virtual void reset() = 0;
  // pred: model outputs (logits or probabilities, (N, C) or (N) / (N, 1)); target: labels (N) int64 or
  // one-hot / values matching pred.
  virtual void update(const Tensor& pred, const Tensor& target) = 0;
  virtual double result() const = 0;
  // The accumulated state as numbers, so a checkpoint can resume a half-finished epoch exactly.
  virtual std::vector<double> state() const = 0;
  virtual void set_state(const std::vector<double>& s) = 0;
};

// Predicted class indices (N) from model outputs: argmax over classes, or threshold 0.5 for one output column
// (0.0 when `logits`).
std::vector<int64_t> predicted_classes(const Tensor& pred, bool logits);
// Target class indices (N) from int labels (N) / (N, 1) or one-hot (N, C).
std::vector<int64_t> target_classes(const Tensor& target);

// Counts of (true class, predicted class).
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t num_classes = 0) : n_(num_classes), m_(num_classes * num_classes, 0) {}
  void add(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted);
  int64_t num_classes() const { return n_; }
  int64_t at(int64_t truth, int64_t predicted) const { return m_[truth * n_ + predicted]; }
  int64_t total() const;
  double accuracy() const;
  double precision(int64_t c) const;  // 0 when the class was never predicted
  double recall(int64_t c) const;     // 0 when the class never occurs
  double f1(int64_t c) const;
  double macro_precision() const;
  double macro_recall() const;
  double macro_f1() const;
  int64_t support(int64_t c) const;
  // The matrix as a table with class names (numbers when names are empty).
  std::string to_string(const std::vector<std::string>& names = {}) const;
  // A scikit-learn-like report: precision, recall, f1, support per class, accuracy and macro averages.
  std::string report(const std::vector<std::string>& names = {}) const;
  // Flat form: n, then the n*n counts.
  std::vector<double> to_flat() const;
  static ConfusionMatrix from_flat(const std::vector<double>& flat);

 private:
  void grow(int64_t n);
  int64_t n_;
  std::vector<int64_t> m_;
};

// Area under the ROC curve for binary scores (ties averaged), as sklearn.metrics.roc_auc_score.
double roc_auc(const std::vector<double>& scores, const std::vector<int64_t>& labels);

// "accuracy" | "binary_accuracy" | "categorical_accuracy" | "sparse_categorical_accuracy" | "precision" |
// "recall" | "f1" (macro over classes; binary when one output column) | "auc" | "mse" | "mae".
// from_logits tells the thresholding of one-column outputs (0 for logits, 0.5 for probabilities).
std::unique_ptr<Metric> make_metric(const std::string& name, bool from_logits = true);

}  // namespace cairn::train
