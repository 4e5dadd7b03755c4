// Losses with Keras names and semantics.
//
//   SparseCategoricalCrossentropy loss(/*from_logits=*/true);
//   Tensor l = loss(logits, labels);                 // scalar, differentiable w.r.t. logits
//   Tensor w = loss(logits, labels, sample_weight);  // per-sample weights (N)
//   auto l2 = make_loss("mse");                      // from a config string
//
// Every loss first computes one value per sample position, reducing the last axis (features or classes) as
// Keras does: pred (N, ..., D) -> (N, ...). A rank-1 pred (N) counts as (N, 1). Sample weights, when given,
// multiply those values (shape (N) or (N, ...), broadcast from the left). The reduction then is
//   "sum_over_batch_size" (default): sum of the weighted values / their count (a mean; zero weights still count)
//   "sum": their sum;   "none": the weighted values themselves.
// Targets must have pred's shape (a target of shape (N) for pred (N, 1), or the reverse, is accepted; any
// other difference throws ShapeError: silently broadcasting (N, 1) against (N) is a classic bug).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "cairn/core/tensor/tensor.h"

namespace cairn::nn {

class Loss {
 public:
  Loss(std::string name, std::string reduction);
  virtual ~Loss() = default;

  Tensor operator()(const Tensor& pred, const Tensor& target, const Tensor& sample_weight = Tensor()) const;
  // The unweighted per-sample values, pred.shape without its last axis.
  virtual Tensor per_sample(const Tensor& pred, const Tensor& target) const = 0;

  const std::string& name() const { return name_; }  // "sparse_categorical_crossentropy"
  const std::string& reduction() const { return reduction_; }
  // True when pred holds logits (the crossentropies built with from_logits); metrics then threshold a
  // one-column output at 0 instead of 0.5.
  virtual bool takes_logits() const { return false; }

 private:
  std::string name_, reduction_;
};

// mean((pred - target)^2) over the last axis.
class MeanSquaredError : public Loss {
 public:
  explicit MeanSquaredError(std::string reduction = "sum_over_batch_size");
  Tensor per_sample(const Tensor& pred, const Tensor& target) const override;
};

// mean(|pred - target|) over the last axis.
class MeanAbsoluteError : public Loss {
 public:
  explicit MeanAbsoluteError(std::string reduction = "sum_over_batch_size");
  Tensor per_sample(const Tensor& pred, const Tensor& target) const override;
};

// 0.5 e^2 where |e| <= delta, delta (|e| - 0.5 delta) elsewhere (e = pred - target); mean over the last axis.
class Huber : public Loss {
 public:
  explicit Huber(double delta = 1.0, std::string reduction = "sum_over_batch_size");
  Tensor per_sample(const Tensor& pred, const Tensor& target) const override;

 private:
  double delta_;
};

// Targets in [0, 1]. from_logits: softplus(x) - x z, exact for any logit. Otherwise pred is a probability,
// clamped to [1e-7, 1 - 1e-7] (Keras's epsilon) before the logs. label_smoothing s: z -> z (1 - s) + s / 2.
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(bool from_logits = false, double label_smoothing = 0.0,
                              std::string reduction = "sum_over_batch_size");
  Tensor per_sample(const Tensor& pred, const Tensor& target) const override;
  bool takes_logits() const override { return from_logits_; }

 private:
  bool from_logits_;
  double smoothing_;
};

// Targets are one-hot (or any distribution) over the last axis, pred's shape. from_logits: -sum(t *
// log_softmax(x)). Otherwise pred rows are rescaled to sum to 1 and clamped to [1e-7, 1 - 1e-7] (Keras).
// label_smoothing s: t -> t (1 - s) + s / C.
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(bool from_logits = false, double label_smoothing = 0.0,
                                   std::string reduction = "sum_over_batch_size");
  Tensor per_sample(const Tensor& pred, const Tensor& target) const override;
  bool takes_logits() const override { return from_logits_; }

 private:
  bool from_logits_;
  double smoothing_;
};

// pred (N, ..., C) with the class axis last (Keras; a Dense layer's output), targets (N, ...) of class indices
// (integers, or floats holding integers; a trailing axis of size 1 is dropped). from_logits uses the fused
// cross_entropy op; otherwise -log(clamp(p[target], 1e-7, 1 - 1e-7)). A target outside [0, C) throws
// IndexError naming the value and its position.
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(bool from_logits = false, std::string reduction = "sum_over_batch_size");
  Tensor per_sample(const Tensor& pred, const Tensor& target) const override;
  bool takes_logits() const override { return from_logits_; }

 private:
  bool from_logits_;
};

struct LossOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;
  double delta = 1.0;  // Huber
  std::string reduction = "sum_over_batch_size";
};

// By Keras name or alias: mean_squared_error / mse, mean_absolute_error / mae, huber, binary_crossentropy,
// categorical_crossentropy, sparse_categorical_crossentropy. Throws ValueError listing them otherwise.
std::shared_ptr<Loss> make_loss(const std::string& name, const LossOptions& options = {});
const std::vector<std::string>& loss_names();

}  // namespace cairn::nn
