#include "cairn/nn/activations.h"

#include <algorithm>

#include "cairn/core/ops/ops.h"

namespace cairn::nn {

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"linear", "relu", "sigmoid", "tanh",  "softmax",
                                                 "leaky_relu", "gelu", "silu", "swish", "softplus"};
  return names;
}

ActivationFn get_activation(const std::string& name, const std::string& where) {
  if (name == "linear") return [](const Tensor& x) { return x; };
  if (name == "relu") return [](const Tensor& x) { return relu(x); };
  if (name == "sigmoid") return [](const Tensor& x) { return sigmoid(x); };
  if (name == "tanh") return [](const Tensor& x) { return cairn::tanh(x); };
  if (name == "softmax") return [](const Tensor& x) { return softmax(x, -1); };
  if (name == "leaky_relu") return [](const Tensor& x) { return leaky_relu(x, 0.2); };
  if (name == "gelu") return [](const Tensor& x) { return gelu(x, "none"); };
  if (name == "silu" || name == "swish") return [](const Tensor& x) { return silu(x); };
  if (name == "softplus") return [](const Tensor& x) { return softplus(x); };
  std::string list;
  for (const auto& n : activation_names()) list += (list.empty() ? "" : ", ") + n;
  throw ValueError(detail::cat(where, ": unknown activation '", name, "'; valid names: ", list));
}

Activation::Activation(const std::string& activation, std::string name)
    : Module("Activation"), activation_(activation), fn_(get_activation(activation, "Activation")) {
  configure(name, std::nullopt, std::nullopt);
}

Tensor Activation::forward(const Tensor& x) {
  build(x.shape());
  return fn_(x);
}

}  // namespace cairn::nn
