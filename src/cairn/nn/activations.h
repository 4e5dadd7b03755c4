// Activations by Keras name, used by every layer's activation= option and by the Activation layer.
//
//   name        function                              PyTorch module it stands for in a Sequential
//   linear      identity                              nn.Identity
//   relu        max(x, 0)                             nn.ReLU
//   sigmoid     1 / (1 + exp(-x))                     nn.Sigmoid
//   tanh        tanh(x)                               nn.Tanh
//   softmax     softmax over the last axis (Keras)    nn.Softmax(dim=-1)
//   leaky_relu  x > 0 ? x : 0.2 x (Keras's slope)     nn.LeakyReLU(0.2)
//   gelu        exact (erf) GELU                      nn.GELU()
//   silu/swish  x * sigmoid(x)                        nn.SiLU
//   softplus    log(1 + exp(x))                       nn.Softplus
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "cairn/nn/module.h"

namespace cairn::nn {

using ActivationFn = std::function<Tensor(const Tensor&)>;

// The named activation. Throws ValueError naming `where` (a layer, for messages) and listing valid names.
ActivationFn get_activation(const std::string& name, const std::string& where = "activation");
const std::vector<std::string>& activation_names();

// A layer applying one activation: Keras's Activation("relu"). No parameters; output shape = input shape.
class Activation : public Module {
 public:
  explicit Activation(const std::string& activation, std::string name = "");
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override { return activation_; }
  const std::string& activation() const { return activation_; }

 protected:
  Shape build_impl(const Shape& input_shape) override { return input_shape; }

 private:
  std::string activation_;
  ActivationFn fn_;
};

}  // namespace cairn::nn
