// Normalisation layers with Keras defaults and PyTorch state dict names.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cairn/nn/module.h"

namespace cairn::nn {

struct BatchNormOptions {
  double momentum = 0.99;  // Keras's: running = momentum * running + (1 - momentum) * batch (PyTorch's 0.01)
  double epsilon = 1e-3;
  bool center = true;      // learn "bias" (beta)
  bool scale = true;       // learn "weight" (gamma)
  std::optional<Shape> input_shape{};
  std::string name{};
};

// Normalises each channel of x (N, C, ...) — axis 1, channels first — with batch statistics in training mode
// (updating the running ones) and running statistics in eval mode. State as torch.nn.BatchNorm{1,2}d:
// "weight" [C] (ones), "bias" [C] (zeros), buffers "running_mean" [C] (zeros), "running_var" [C] (ones,
// unbiased batch variance as PyTorch) and "num_batches_tracked" (int64 scalar, +1 per training batch).
// Equivalent PyTorch module: BatchNorm2d(C, eps=epsilon, momentum=1 - momentum).
class BatchNormalization : public Module {
 public:
  explicit BatchNormalization(double momentum = 0.99, double epsilon = 1e-3);
  explicit BatchNormalization(BatchNormOptions options);
  Tensor forward(const Tensor& x) override;
  std::string input_spec() const override;
  std::string extra_repr() const override;
  bool updates_state_in_forward() const override { return true; }

  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }
  int64_t num_batches_tracked() const;

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  BatchNormOptions opt_;
  int64_t channels_ = -1;
  Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};

struct LayerNormOptions {
  double epsilon = 1e-3;
  // The axes normalised over: the trailing ones (negative = from the end). {-1}: the last axis.
  std::vector<int64_t> axis = {-1};
  bool center = true;
  bool scale = true;
  std::optional<Shape> input_shape{};
  std::string name{};
};

// Normalises over the trailing `axis` dims of each sample: "weight" and "bias" of those dims' shape, as
// torch.nn.LayerNorm(normalized_shape, eps=epsilon).
class LayerNormalization : public Module {
 public:
  explicit LayerNormalization(double epsilon = 1e-3);
  explicit LayerNormalization(LayerNormOptions options);
  Tensor forward(const Tensor& x) override;
  std::string input_spec() const override;
  std::string extra_repr() const override;

  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  LayerNormOptions opt_;
  Shape normalized_;  // empty until built
  Tensor weight_, bias_;
};

}  // namespace cairn::nn
