// Layers over several inputs, called with a list: (*add)({a, b}). They have no parameters.
#pragma once
#include <string>
#include <vector>

#include "cairn/nn/module.h"

namespace cairn::nn {

// Elementwise sum of two or more tensors of the same shape (Keras's Add; a residual connection).
class Add : public Module {
 public:
  explicit Add(std::string name = "");
  using Module::forward;
  Tensor forward(const std::vector<Tensor>& xs) override;

 protected:
  using Module::build_impl;
  Shape build_impl(const std::vector<Shape>& input_shapes) override;
};

// Joins two or more tensors along `axis` (Keras's default -1; use 1 for NCHW channels). All other dims
// must match.
class Concatenate : public Module {
 public:
  explicit Concatenate(int64_t axis = -1, std::string name = "");
  using Module::forward;
  Tensor forward(const std::vector<Tensor>& xs) override;
  std::string extra_repr() const override { return "axis=" + std::to_string(axis_); }

 protected:
  using Module::build_impl;
  Shape build_impl(const std::vector<Shape>& input_shapes) override;

 private:
  int64_t axis_;
};

}  // namespace cairn::nn
