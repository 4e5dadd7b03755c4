// Convolution and pooling layers, NCHW (channels first, as PyTorch), with Keras names and padding modes.
//
//   auto conv = std::make_shared<Conv2D>(32, 3, "relu");                         // 3x3, stride 1, valid
//   auto down = std::make_shared<Conv2D>(64, 3, Conv2DOptions{.strides = 2, .padding = "same"});
//   auto pool = std::make_shared<MaxPooling2D>(2);                               // 2x2, stride 2
//
// padding "valid": no padding, out = floor((in - dilation * (k - 1) - 1) / stride) + 1.
// padding "same":  out = ceil(in / stride), padding split as TensorFlow and PyTorch do it (the odd pixel goes
//                  to the bottom/right), so weights move between frameworks with the same outputs. Pooling
//                  pads with -inf (max) or leaves the padding out of the average (avg), as Keras.
#pragma once
#include <optional>
#include <string>

#include "cairn/nn/activations.h"
#include "cairn/nn/module.h"

namespace cairn::nn {

// A (height, width) pair; one number means a square.
struct Size2 {
  int64_t h = 1, w = 1;
  Size2(int64_t k) : h(k), w(k) {}  // NOLINT: implicit, so `3` reads as 3x3
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  bool operator==(const Size2&) const = default;
};

struct Conv2DOptions {
  Size2 strides = 1;
  std::string padding = "valid";  // "valid" | "same"
  Size2 dilation = 1;
  int64_t groups = 1;
  std::string activation = "linear";
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "";  // "" = "zeros", or "torch_default" when kernel_initializer is
  std::optional<Shape> input_shape{};   // (C, H, W)
  std::optional<uint64_t> seed{};
  std::string name{};
};

// x (N, C, H, W) -> (N, filters, OH, OW). Parameters "weight" [filters, C / groups, kh, kw] and "bias"
// [filters], as torch.nn.Conv2d. C is taken from the first input.
class Conv2D : public Module {
 public:
  Conv2D(int64_t filters, Size2 kernel_size, const std::string& activation = "linear");
  Conv2D(int64_t filters, Size2 kernel_size, Conv2DOptions options);
  Tensor forward(const Tensor& x) override;
  // The convolution without the activation (Sequential pools before relu: see Sequential::forward).
  Tensor forward_without_activation(const Tensor& x);
  std::string input_spec() const override;
  bool has_fused_activation() const override { return opt_.activation != "linear"; }
  std::string extra_repr() const override;

  const std::string& activation() const { return opt_.activation; }
  int64_t filters() const { return filters_; }
  int64_t in_channels() const { return in_channels_; }  // -1 until built
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  Tensor convolve(const Tensor& x, bool activate);

  int64_t filters_;
  Size2 kernel_;
  int64_t in_channels_ = -1;
  Conv2DOptions opt_;
  ActivationFn act_;
  Tensor weight_, bias_;
};

// Shared by MaxPooling2D and AveragePooling2D.
class Pooling2D : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string input_spec() const override { return "[N, C, H, W]"; }
  std::string extra_repr() const override;

 protected:
  Pooling2D(const char* type, bool is_max, Size2 pool_size, std::optional<Size2> strides, std::string padding,
            std::string name);
  Shape build_impl(const Shape& input_shape) override;

 private:
  bool is_max_;
  Size2 pool_, strides_;
  std::string padding_;
};

// Max over pool_size windows moved by strides (default: pool_size). torch.nn.MaxPool2d for "valid".
class MaxPooling2D : public Pooling2D {
 public:
  explicit MaxPooling2D(Size2 pool_size = 2, std::optional<Size2> strides = std::nullopt,
                        std::string padding = "valid", std::string name = "")
      : Pooling2D("MaxPooling2D", true, pool_size, strides, std::move(padding), std::move(name)) {}
};

// Mean over windows; with "same" padding the padded pixels are left out of each mean (Keras).
// torch.nn.AvgPool2d for "valid".
class AveragePooling2D : public Pooling2D {
 public:
  explicit AveragePooling2D(Size2 pool_size = 2, std::optional<Size2> strides = std::nullopt,
                            std::string padding = "valid", std::string name = "")
      : Pooling2D("AveragePooling2D", false, pool_size, strides, std::move(padding), std::move(name)) {}
};

// (N, C, H, W) -> (N, C) mean (or max) over H and W; keepdims gives (N, C, 1, 1).
class GlobalAveragePooling2D : public Module {
 public:
  explicit GlobalAveragePooling2D(bool keepdims = false, std::string name = "");
  Tensor forward(const Tensor& x) override;
  std::string input_spec() const override { return "[N, C, H, W]"; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  bool keepdims_;
};

class GlobalMaxPooling2D : public Module {
 public:
  explicit GlobalMaxPooling2D(bool keepdims = false, std::string name = "");
  Tensor forward(const Tensor& x) override;
  std::string input_spec() const override { return "[N, C, H, W]"; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  bool keepdims_;
};

// Pads the last two dims of x (N, C, H, W) with `value`: (top, bottom) rows and (left, right) columns.
// Differentiable (the gradient of the padding is dropped).
Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right, double value = 0.0);

}  // namespace cairn::nn
