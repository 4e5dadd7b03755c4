// Core Keras layers with PyTorch parameter layouts: Dense, Flatten, Reshape, Dropout, Embedding, Lambda.
//
//   auto fc = std::make_shared<Dense>(128, "relu");                       // built on its first input
//   auto fc2 = std::make_shared<Dense>(10, DenseOptions{.use_bias = false, .input_shape = Shape{128}});
//
// Every layer's shapes include the batch dimension first. Options structs take designated initialisers;
// their common fields are input_shape (Keras's, batch excluded: builds the layer at construction), seed (a
// private generator for initialisation / dropout masks instead of the process default) and name.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "cairn/nn/activations.h"
#include "cairn/nn/module.h"

namespace cairn::nn {

struct DenseOptions {
  std::string activation = "linear";
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "";  // "" = "zeros", or "torch_default" when kernel_initializer is
  std::optional<Shape> input_shape{};
  std::optional<uint64_t> seed{};
  std::string name{};
};

// y = activation(x W^T + b): x (..., in) -> (..., units). Parameters "weight" [units, in] and "bias" [units],
// as torch.nn.Linear. `in` is taken from the first input's last dimension.
class Dense : public Module {
 public:
  explicit Dense(int64_t units, const std::string& activation = "linear");
  Dense(int64_t units, DenseOptions options);
  Tensor forward(const Tensor& x) override;
  std::string input_spec() const override;
  bool has_fused_activation() const override { return opt_.activation != "linear"; }
  std::string extra_repr() const override;

  int64_t units() const { return units_; }
  int64_t in_features() const { return in_features_; }  // -1 until built
  const Tensor& weight() const { return weight_; }       // undefined until built
  const Tensor& bias() const { return bias_; }           // undefined until built or without bias
  const std::string& activation() const { return opt_.activation; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  int64_t units_;
  int64_t in_features_ = -1;
  DenseOptions opt_;
  ActivationFn act_;
  Tensor weight_, bias_;
};

// (N, d1, d2, ...) -> (N, d1 * d2 * ...), row-major (C, H, W order for images, as torch.flatten(x, 1)).
// A 1-D input (N) becomes (N, 1), as in Keras.
class Flatten : public Module {
 public:
  explicit Flatten(std::string name = "");
  Tensor forward(const Tensor& x) override;
  std::string input_spec() const override { return "[N, ...]"; }

 protected:
  Shape build_impl(const Shape& input_shape) override;
};

// (N, ...) -> (N, *target_shape); target_shape excludes the batch dim and may hold one -1 (inferred).
class Reshape : public Module {
 public:
  explicit Reshape(Shape target_shape, std::string name = "");
  Tensor forward(const Tensor& x) override;
  std::string input_spec() const override;
  std::string extra_repr() const override { return shape_str(target_); }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  Shape target_;
};

// In training mode zeroes each element with probability `rate` and scales the rest by 1 / (1 - rate);
// identity in eval mode. rate in [0, 1). Masks come from a private generator when seed is given.
class Dropout : public Module {
 public:
  explicit Dropout(double rate, std::optional<uint64_t> seed = std::nullopt, std::string name = "");
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double rate() const { return rate_; }

 protected:
  Shape build_impl(const Shape& input_shape) override { return input_shape; }

 private:
  double rate_;
};

struct EmbeddingOptions {
  // Keras's default ("uniform" = U(-0.05, 0.05)); "torch_default" draws N(0, 1) as torch.nn.Embedding does.
  std::string embeddings_initializer = "uniform";
  int64_t padding_idx = -1;  // a row that gets no gradient (PyTorch's padding_idx), -1 for none
  std::optional<Shape> input_shape{};
  std::optional<uint64_t> seed{};
  std::string name{};
};

// Integer indices (any shape, values in [0, input_dim)) -> (*indices.shape, output_dim). Parameter "weight"
// [input_dim, output_dim], as torch.nn.Embedding; created at construction (its shape is known).
class Embedding : public Module {
 public:
  Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options = {});
  Tensor forward(const Tensor& indices) override;
  std::string input_spec() const override;
  std::string extra_repr() const override;
  const Tensor& weight() const { return weight_; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  int64_t input_dim_, output_dim_;
  EmbeddingOptions opt_;
  Tensor weight_;
};

// Wraps a function as a layer (Keras's Lambda), the escape hatch for anything without a layer of its own.
// Without an output_shape function, build() finds the output shape by running fn once on zeros.
// Lambdas hold no parameters; a function that needs some belongs in a Module subclass.
class Lambda : public Module {
 public:
  using Fn = std::function<Tensor(const Tensor&)>;
  using MultiFn = std::function<Tensor(const std::vector<Tensor>&)>;
  using ShapeFn = std::function<Shape(const Shape&)>;
  explicit Lambda(Fn fn, ShapeFn output_shape = nullptr, std::string name = "");
  explicit Lambda(MultiFn fn, std::string name = "");
  Tensor forward(const Tensor& x) override;
  Tensor forward(const std::vector<Tensor>& xs) override;

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  Fn fn_;
  MultiFn multi_;
  ShapeFn shape_fn_;
};

}  // namespace cairn::nn
