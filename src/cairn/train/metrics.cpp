#include "cairn/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "cairn/core/ops/ops.h"

namespace cairn::train {

std::vector<int64_t> predicted_classes(const Tensor& pred, bool logits) {
  Tensor p = pred.detach();
  if (p.dim() == 2 && p.size(1) > 1) return argmax(p, 1).to_vector<int64_t>();
  auto v = p.to_vector<double>();
  const double thr = logits ? 0.0 : 0.5;
  std::vector<int64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = v[i] > thr ? 1 : 0;
  return out;
}

std::vector<int64_t> target_classes(const Tensor& target) {
  Tensor t = target.detach();
  if (t.dim() == 2 && t.size(1) > 1) return argmax(t.to(DType::f32), 1).to_vector<int64_t>();
  if (is_floating(t.dtype())) {
    auto v = t.to_vector<double>();
    std::vector<int64_t> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<int64_t>(std::lround(v[i]));
    return out;
  }
  return t.to_vector<int64_t>();
}

void ConfusionMatrix::grow(int64_t n) {
  if (n <= n_) return;
  std::vector<int64_t> m(n * n, 0);
  for (int64_t i = 0; i < n_; ++i)
    for (int64_t j = 0; j < n_; ++j) m[i * n + j] = m_[i * n_ + j];
  m_ = std::move(m);
  n_ = n;
}

void ConfusionMatrix::add(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted) {
  CAIRN_CHECK(truth.size() == predicted.size(), ShapeError, "confusion matrix: ", truth.size(), " labels but ",
              predicted.size(), " predictions");
  int64_t hi = n_ - 1;
  for (size_t i = 0; i < truth.size(); ++i) {
    CAIRN_CHECK(truth[i] >= 0 && predicted[i] >= 0, IndexError, "confusion matrix: negative class index at row ", i);
    hi = std::max({hi, truth[i], predicted[i]});
  }
  grow(hi + 1);
  for (size_t i = 0; i < truth.size(); ++i) m_[truth[i] * n_ + predicted[i]]++;
}

int64_t ConfusionMatrix::total() const { return std::accumulate(m_.begin(), m_.end(), int64_t{0}); }
double ConfusionMatrix::accuracy() const {
  int64_t t = total(), c = 0;
  for (int64_t i = 0; i < n_; ++i) c += at(i, i);
  return t ? static_cast<double>(c) / static_cast<double>(t) : 0.0;
}
int64_t ConfusionMatrix::support(int64_t c) const {
  int64_t s = 0;
  for (int64_t j = 0; j < n_; ++j) s += at(c, j);
  return s;
}
double ConfusionMatrix::precision(int64_t c) const {
  int64_t col = 0;
  for (int64_t i = 0; i < n_; ++i) col += at(i, c);
  return col ? static_cast<double>(at(c, c)) / static_cast<double>(col) : 0.0;
}
double ConfusionMatrix::recall(int64_t c) const {
  int64_t s = support(c);
  return s ? static_cast<double>(at(c, c)) / static_cast<double>(s) : 0.0;
}
double ConfusionMatrix::f1(int64_t c) const {
  double p = precision(c), r = recall(c);
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}
double ConfusionMatrix::macro_precision() const {
  double s = 0;
  for (int64_t c = 0; c < n_; ++c) s += precision(c);
  return n_ ? s / static_cast<double>(n_) : 0.0;
}
double ConfusionMatrix::macro_recall() const {
  double s = 0;
  for (int64_t c = 0; c < n_; ++c) s += recall(c);
  return n_ ? s / static_cast<double>(n_) : 0.0;
}
double ConfusionMatrix::macro_f1() const {
  double s = 0;
  for (int64_t c = 0; c < n_; ++c) s += f1(c);
  return n_ ? s / static_cast<double>(n_) : 0.0;
}

namespace {
std::string class_name(const std::vector<std::string>& names, int64_t c) {
  return c < static_cast<int64_t>(names.size()) ? names[c] : std::to_string(c);
}
}  // namespace

std::string ConfusionMatrix::to_string(const std::vector<std::string>& names) const {
  size_t w = 6;
  for (int64_t c = 0; c < n_; ++c) w = std::max(w, class_name(names, c).size() + 1);
  std::ostringstream os;
  char buf[64];
  os << "Confusion matrix (rows: true class, columns: predicted class)\n";
  os << std::string(w, ' ');
  for (int64_t c = 0; c < n_; ++c) {
    std::snprintf(buf, sizeof buf, "%6lld", static_cast<long long>(c));
    os << buf;
  }
  os << "\n";
  for (int64_t i = 0; i < n_; ++i) {
    std::string n = class_name(names, i);
    os << n << std::string(w - n.size(), ' ');
    for (int64_t j = 0; j < n_; ++j) {
      std::snprintf(buf, sizeof buf, "%6lld", static_cast<long long>(at(i, j)));
      os << buf;
    }
    os << "   (" << i << ")\n";
  }
  return os.str();
}

std::string ConfusionMatrix::report(const std::vector<std::string>& names) const {
  size_t w = 12;
  for (int64_t c = 0; c < n_; ++c) w = std::max(w, class_name(names, c).size() + 2);
  std::ostringstream os;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%*s %10s %10s %10s %10s\n", static_cast<int>(w), "", "precision", "recall", "f1-score",
                "support");
  os << buf;
  for (int64_t c = 0; c < n_; ++c) {
    std::snprintf(buf, sizeof buf, "%*s %10.4f %10.4f %10.4f %10lld\n", static_cast<int>(w), class_name(names, c).c_str(),
                  precision(c), recall(c), f1(c), static_cast<long long>(support(c)));
    os << buf;
  }
  std::snprintf(buf, sizeof buf, "\n%*s %10s %10s %10.4f %10lld\n", static_cast<int>(w), "accuracy", "", "", accuracy(),
                static_cast<long long>(total()));
  os << buf;
  std::snprintf(buf, sizeof buf, "%*s %10.4f %10.4f %10.4f %10lld\n", static_cast<int>(w), "macro avg", macro_precision(),
                macro_recall(), macro_f1(), static_cast<long long>(total()));
  os << buf;
  return os.str();
}

std::vector<double> ConfusionMatrix::to_flat() const {
  std::vector<double> f{static_cast<double>(n_)};
  for (int64_t v : m_) f.push_back(static_cast<double>(v));
  return f;
}

ConfusionMatrix ConfusionMatrix::from_flat(const std::vector<double>& flat) {
  CAIRN_CHECK(!flat.empty(), ValueError, "confusion matrix state is empty");
  auto n = static_cast<int64_t>(flat[0]);
  CAIRN_CHECK(n >= 0 && static_cast<int64_t>(flat.size()) == 1 + n * n, ValueError,
              "confusion matrix state has ", flat.size(), " numbers, expected 1 + n*n with n = ", n);
  ConfusionMatrix cm(n);
  for (int64_t i = 0; i < n * n; ++i) cm.m_[i] = static_cast<int64_t>(flat[1 + i]);
  return cm;
}

double roc_auc(const std::vector<double>& scores, const std::vector<int64_t>& labels) {
  CAIRN_CHECK(scores.size() == labels.size(), ShapeError, "auc: ", scores.size(), " scores but ", labels.size(), " labels");
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney U with average ranks for ties.
  double rank_sum_pos = 0;
  int64_t pos = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k)
      if (labels[order[k]] == 1) {
        rank_sum_pos += avg_rank;
        pos++;
      }
    i = j;
  }
  const int64_t neg = static_cast<int64_t>(labels.size()) - pos;
  CAIRN_CHECK(pos > 0 && neg > 0, ValueError, "auc: needs both positive and negative labels (got ", pos, " positive, ",
              neg, " negative)");
  return (rank_sum_pos - static_cast<double>(pos) * static_cast<double>(pos + 1) / 2.0) /
         (static_cast<double>(pos) * static_cast<double>(neg));
}

namespace {

class ClassMetric final : public Metric {
 public:
  enum Kind { kAccuracy, kPrecision, kRecall, kF1 };
  ClassMetric(std::string name, Kind kind, bool logits) : name_(std::move(name)), kind_(kind), logits_(logits) {}
  std::string name() const override { return name_; }
  void reset() override { cm_ = ConfusionMatrix(); }
  void update(const Tensor& pred, const Tensor& target) override {
    cm_.add(target_classes(target), predicted_classes(pred, logits_));
  }
  double result() const override {
    const bool binary = cm_.num_classes() <= 2;
    switch (kind_) {
      case kAccuracy: return cm_.accuracy();
      case kPrecision: return binary ? cm_.precision(1) : cm_.macro_precision();
      case kRecall: return binary ? cm_.recall(1) : cm_.macro_recall();
      case kF1: return binary ? cm_.f1(1) : cm_.macro_f1();
    }
    return 0;
  }
  std::vector<double> state() const override { return cm_.to_flat(); }
  void set_state(const std::vector<double>& s) override { cm_ = ConfusionMatrix::from_flat(s); }

 private:
  std::string name_;
  Kind kind_;
  bool logits_;
  ConfusionMatrix cm_;
};

class AucMetric final : public Metric {
 public:
  explicit AucMetric(bool logits) : logits_(logits) {}
  std::string name() const override { return "auc"; }
  void reset() override {
    scores_.clear();
    labels_.clear();
  }
  void update(const Tensor& pred, const Tensor& target) override {
    Tensor p = pred.detach();
    if (p.dim() == 2 && p.size(1) == 2) p = select(softmax(p, 1), 1, 1);
    auto s = p.to_vector<double>();
    scores_.insert(scores_.end(), s.begin(), s.end());
    auto t = target_classes(target);
    labels_.insert(labels_.end(), t.begin(), t.end());
  }
  double result() const override { return scores_.empty() ? 0.0 : roc_auc(scores_, labels_); }
  std::vector<double> state() const override {
    std::vector<double> s = scores_;
    for (int64_t l : labels_) s.push_back(static_cast<double>(l));
    return s;
  }
  void set_state(const std::vector<double>& s) override {
    const size_t n = s.size() / 2;
    scores_.assign(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
    labels_.clear();
    for (size_t i = n; i < s.size(); ++i) labels_.push_back(static_cast<int64_t>(s[i]));
  }

 private:
  bool logits_;
  std::vector<double> scores_;
  std::vector<int64_t> labels_;
};

class ErrorMetric final : public Metric {
 public:
  explicit ErrorMetric(bool squared) : squared_(squared) {}
  std::string name() const override { return squared_ ? "mse" : "mae"; }
  void reset() override { sum_ = count_ = 0; }
  void update(const Tensor& pred, const Tensor& target) override {
    auto p = pred.detach().to_vector<double>();
    auto t = target.detach().to_vector<double>();
    CAIRN_CHECK(p.size() == t.size(), ShapeError, name(), ": predictions ", shape_str(pred.shape()),
                " and targets ", shape_str(target.shape()), " differ in size");
    for (size_t i = 0; i < p.size(); ++i) sum_ += squared_ ? (p[i] - t[i]) * (p[i] - t[i]) : std::abs(p[i] - t[i]);
    count_ += static_cast<double>(p.size());
  }
  double result() const override { return count_ ? sum_ / count_ : 0.0; }
  std::vector<double> state() const override { return {sum_, count_}; }
  void set_state(const std::vector<double>& s) override {
    CAIRN_CHECK(s.size() == 2, ValueError, name(), ": state needs 2 numbers, got ", s.size());
    sum_ = s[0];
    count_ = s[1];
  }

 private:
  bool squared_;
  double sum_ = 0, count_ = 0;
};

}  // namespace

std::unique_ptr<Metric> make_metric(const std::string& name, bool from_logits) {
  if (name == "accuracy" || name == "acc" || name == "binary_accuracy" || name == "categorical_accuracy" ||
      name == "sparse_categorical_accuracy")
    return std::make_unique<ClassMetric>(name == "acc" ? "accuracy" : name, ClassMetric::kAccuracy, from_logits);
  if (name == "precision") return std::make_unique<ClassMetric>(name, ClassMetric::kPrecision, from_logits);
  if (name == "recall") return std::make_unique<ClassMetric>(name, ClassMetric::kRecall, from_logits);
  if (name == "f1" || name == "f1_score") return std::make_unique<ClassMetric>("f1", ClassMetric::kF1, from_logits);
  if (name == "auc") return std::make_unique<AucMetric>(from_logits);
  if (name == "mse" || name == "mean_squared_error") return std::make_unique<ErrorMetric>(true);
  if (name == "mae" || name == "mean_absolute_error") return std::make_unique<ErrorMetric>(false);
  throw ValueError("unknown metric '" + name +
                   "'; valid metrics: accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, "
                   "precision, recall, f1, auc, mse, mae");
}

}  // namespace cairn::train
