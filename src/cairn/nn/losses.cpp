#include "cairn/nn/losses.h"

#include <algorithm>
#include <cmath>

#include "cairn/core/ops/ops.h"

namespace cairn::nn {

namespace {

constexpr double kEpsilon = 1e-7;  // Keras's backend epsilon

void check_pred(const std::string& loss, const Tensor& pred) {
  CAIRN_CHECK(pred.defined(), ValueError, loss, ": predictions are an undefined tensor");
  CAIRN_CHECK(pred.dtype() == DType::f32 || pred.dtype() == DType::f64, DTypeError, loss,
              ": predictions must be float32 or float64, got ", dtype_name(pred.dtype()));
  CAIRN_CHECK(pred.dim() >= 1 && pred.numel() > 0, ShapeError, loss, ": predictions need a batch dimension and at ",
              "least one element, got ", shape_str(pred.shape()));
}

// Brings pred and a same-shaped target to a common rank >= 2 (features last), target in pred's dtype.
std::pair<Tensor, Tensor> align(const std::string& loss, Tensor pred, Tensor target) {
  check_pred(loss, pred);
  CAIRN_CHECK(target.defined(), ValueError, loss, ": targets are an undefined tensor");
  Shape p = pred.shape(), t = target.shape();
  auto drop_last = [](const Shape& s) { return Shape(s.begin(), s.end() - 1); };
  if (p != t) {
    if (p.size() == t.size() + 1 && p.back() == 1 && drop_last(p) == t) {
      target = target.unsqueeze(-1);
    } else if (t.size() == p.size() + 1 && t.back() == 1 && drop_last(t) == p) {
      target = target.squeeze(-1);
    } else {
      throw ShapeError(detail::cat(loss, ": predictions ", shape_str(p), " and targets ", shape_str(t),
                                   " must have the same shape"));
    }
  }
  if (pred.dim() == 1) {
    pred = pred.unsqueeze(-1);
    target = target.unsqueeze(-1);
  }
  if (target.dtype() != pred.dtype()) target = target.to(pred.dtype());
  return {pred, target};
}

}  // namespace

Loss::Loss(std::string name, std::string reduction) : name_(std::move(name)), reduction_(std::move(reduction)) {
  CAIRN_CHECK(reduction_ == "sum_over_batch_size" || reduction_ == "sum" || reduction_ == "none", ValueError, name_,
              ": reduction must be \"sum_over_batch_size\", \"sum\" or \"none\", got \"", reduction_, "\"");
}

Tensor Loss::operator()(const Tensor& pred, const Tensor& target, const Tensor& sample_weight) const {
  Tensor l = per_sample(pred, target);
  if (sample_weight.defined()) {
    Tensor w = sample_weight.detach().to(l.dtype());
    if (w.dim() == l.dim() + 1 && w.shape().back() == 1) w = w.squeeze(-1);
    Shape ws = w.shape();
    bool ok = w.dim() <= l.dim();
    for (size_t i = 0; ok && i < ws.size(); ++i) ok = ws[i] == l.shape()[i] || ws[i] == 1;
    CAIRN_CHECK(ok, ShapeError, name_, ": sample_weight ", shape_str(sample_weight.shape()),
                " does not fit the per-sample losses ", shape_str(l.shape()),
                " (give one weight per sample, shape [N], or the losses' shape)");
    while (w.dim() < l.dim()) w = w.unsqueeze(-1);
    l = l * w;
  }
  if (reduction_ == "none") return l;
  return reduction_ == "sum" ? sum(l) : mean(l);
}

// ---- regression ----

MeanSquaredError::MeanSquaredError(std::string reduction) : Loss("mean_squared_error", std::move(reduction)) {}

Tensor MeanSquaredError::per_sample(const Tensor& pred, const Tensor& target) const {
  auto [p, t] = align(name(), pred, target);
  return mean(square(p - t), {-1});
}

MeanAbsoluteError::MeanAbsoluteError(std::string reduction) : Loss("mean_absolute_error", std::move(reduction)) {}

Tensor MeanAbsoluteError::per_sample(const Tensor& pred, const Tensor& target) const {
  auto [p, t] = align(name(), pred, target);
  return mean(abs(p - t), {-1});
}

Huber::Huber(double delta, std::string reduction) : Loss("huber", std::move(reduction)), delta_(delta) {
  CAIRN_CHECK(delta > 0, ValueError, "huber: delta must be positive, got ", delta);
}

Tensor Huber::per_sample(const Tensor& pred, const Tensor& target) const {
  auto [p, t] = align(name(), pred, target);
  // With a = |e| and q = min(a, delta): 0.5 q^2 + delta (a - q) is both branches in one differentiable formula.
  Tensor a = abs(p - t);
  Tensor q = clamp(a, std::nullopt, delta_);
  return mean(0.5 * square(q) + delta_ * (a - q), {-1});
}

// ---- binary ----

BinaryCrossentropy::BinaryCrossentropy(bool from_logits, double label_smoothing, std::string reduction)
    : Loss("binary_crossentropy", std::move(reduction)), from_logits_(from_logits), smoothing_(label_smoothing) {
  CAIRN_CHECK(label_smoothing >= 0 && label_smoothing <= 1, ValueError,
              "binary_crossentropy: label_smoothing must be in [0, 1], got ", label_smoothing);
}

Tensor BinaryCrossentropy::per_sample(const Tensor& pred, const Tensor& target) const {
  auto [x, z] = align(name(), pred, target);
  if (smoothing_ > 0) z = z * (1.0 - smoothing_) + 0.5 * smoothing_;
  if (from_logits_) return mean(softplus(x) - x * z, {-1});  // = max(x,0) - xz + log(1 + e^-|x|), no overflow
  Tensor p = clamp(x, kEpsilon, 1.0 - kEpsilon);
  return mean(-(z * log(p) + (1.0 - z) * log(1.0 - p)), {-1});
}

// ---- categorical ----

CategoricalCrossentropy::CategoricalCrossentropy(bool from_logits, double label_smoothing, std::string reduction)
    : Loss("categorical_crossentropy", std::move(reduction)), from_logits_(from_logits), smoothing_(label_smoothing) {
  CAIRN_CHECK(label_smoothing >= 0 && label_smoothing <= 1, ValueError,
              "categorical_crossentropy: label_smoothing must be in [0, 1], got ", label_smoothing);
}

Tensor CategoricalCrossentropy::per_sample(const Tensor& pred, const Tensor& target) const {
  check_pred(name(), pred);
  CAIRN_CHECK(target.defined() && target.shape() == pred.shape(), ShapeError, name(), ": targets ",
              target.defined() ? shape_str(target.shape()) : std::string("(undefined)"),
              " must be one-hot rows of the predictions' shape ", shape_str(pred.shape()),
              "; for class indices use sparse_categorical_crossentropy");
  Tensor t = target.to(pred.dtype());
  const double classes = static_cast<double>(pred.shape().back());
  if (smoothing_ > 0) t = t * (1.0 - smoothing_) + smoothing_ / classes;
  if (from_logits_) return -sum(t * log_softmax(pred, -1), {-1});
  Tensor p = pred / sum(pred, {-1}, true);
  p = clamp(p, kEpsilon, 1.0 - kEpsilon);
  return -sum(t * log(p), {-1});
}

SparseCategoricalCrossentropy::SparseCategoricalCrossentropy(bool from_logits, std::string reduction)
    : Loss("sparse_categorical_crossentropy", std::move(reduction)), from_logits_(from_logits) {}

Tensor SparseCategoricalCrossentropy::per_sample(const Tensor& pred, const Tensor& target) const {
  check_pred(name(), pred);
  CAIRN_CHECK(target.defined(), ValueError, name(), ": targets are an undefined tensor");
  CAIRN_CHECK(pred.dim() >= 2, ShapeError, name(), ": predictions must be (N, ..., classes), got ",
              shape_str(pred.shape()));
  Tensor t = target;
  if (t.dim() == pred.dim() && t.shape().back() == 1) t = t.squeeze(-1);
  Shape expect(pred.shape().begin(), pred.shape().end() - 1);
  CAIRN_CHECK(t.shape() == expect, ShapeError, name(), ": targets ", shape_str(target.shape()),
              " must hold one class index per prediction row, shape ", shape_str(expect), " for predictions ",
              shape_str(pred.shape()));
  if (t.dtype() != DType::i64) t = t.to(DType::i64);
  const int64_t classes = pred.shape().back();
  const std::vector<int64_t> idx = t.to_vector<int64_t>();
  for (size_t i = 0; i < idx.size(); ++i)
    CAIRN_CHECK(idx[i] >= 0 && idx[i] < classes, IndexError, name(), ": target ", idx[i], " at flat position ", i,
                " is outside [0, ", classes, ") for predictions ", shape_str(pred.shape()));
  if (from_logits_) {
    CrossEntropyOptions o;
    o.reduction = "none";
    Tensor l = cross_entropy(pred.reshape({-1, classes}), t.reshape({-1}), o);
    return l.reshape(expect);
  }
  // p[target] as a masked sum: one-hot rows from comparing the indices with 0..C-1.
  Tensor onehot = eq(t.unsqueeze(-1), arange(0, static_cast<double>(classes), 1.0, DType::i64)).to(pred.dtype());
  Tensor p = clamp(sum(pred * onehot, {-1}), kEpsilon, 1.0 - kEpsilon);
  return -log(p);
}

// ---- factory ----

const std::vector<std::string>& loss_names() {
  static const std::vector<std::string> names = {"mean_squared_error",      "mse",
                                                 "mean_absolute_error",     "mae",
                                                 "huber",                   "binary_crossentropy",
                                                 "categorical_crossentropy", "sparse_categorical_crossentropy"};
  return names;
}

std::shared_ptr<Loss> make_loss(const std::string& name, const LossOptions& o) {
  if (name == "mean_squared_error" || name == "mse") return std::make_shared<MeanSquaredError>(o.reduction);
  if (name == "mean_absolute_error" || name == "mae") return std::make_shared<MeanAbsoluteError>(o.reduction);
  if (name == "huber") return std::make_shared<Huber>(o.delta, o.reduction);
  if (name == "binary_crossentropy")
    return std::make_shared<BinaryCrossentropy>(o.from_logits, o.label_smoothing, o.reduction);
  if (name == "categorical_crossentropy")
    return std::make_shared<CategoricalCrossentropy>(o.from_logits, o.label_smoothing, o.reduction);
  if (name == "sparse_categorical_crossentropy")
    return std::make_shared<SparseCategoricalCrossentropy>(o.from_logits, o.reduction);
  std::string list;
  for (const auto& n : loss_names()) list += (list.empty() ? "" : ", ") + n;
  throw ValueError("make_loss: unknown loss '" + name + "'; valid names: " + list);
}

}  // namespace cairn::nn
