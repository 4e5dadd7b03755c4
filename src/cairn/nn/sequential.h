// Sequential: a stack of layers, each fed the previous one's output (Keras's Sequential, PyTorch's
// nn.Sequential).
//
//   Sequential model;
//   model.add(std::make_shared<Conv2D>(32, 3, "relu"));
//   model.add(std::make_shared<MaxPooling2D>(2));
//   model.add<Flatten>();                      // constructs in place
//   model.add<Dense>(10);
//   model.build({-1, 1, 28, 28});
//
// State dict names match the equivalent PyTorch nn.Sequential in which every fused activation= is a
// module of its own: a layer with an activation takes two indices (the layer's, then the activation's), so
// [Conv2D(32, 3, relu), MaxPooling2D, Flatten, Dense(10)] is named like nn.Sequential(Conv2d, ReLU,
// MaxPool2d, Flatten, Linear): "0.weight", "0.bias", "4.weight", "4.bias". Weights saved by either
// framework load into the other.
//
// Shape errors say which two layers disagree: "layer 5 'dense' (Dense) expects input [*, 1600] but layer 4
// 'flatten' (Flatten) outputs [32, 1024]: <reason>".
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "cairn/nn/module.h"

namespace cairn::nn {

class Sequential : public Module {
 public:
  Sequential();
  explicit Sequential(std::vector<std::shared_ptr<Module>> layers, std::string name = "");

  // Appends a layer, registered under its PyTorch index. When the model's input shape is already known (the
  // first layer had input_shape=, or the model was built), the new layer is built at once, so a layer that
  // does not fit is reported here (ShapeError naming both layers) and not added.
  Sequential& add(std::shared_ptr<Module> layer);
  // Constructs a layer in place: model.add<Dense>(128, "relu"). Returns it.
  template <class L, class... Args>
  std::shared_ptr<L> add(Args&&... args) {
    auto layer = std::make_shared<L>(std::forward<Args>(args)...);
    add(std::static_pointer_cast<Module>(layer));
    return layer;
  }

  size_t size() const { return layers_.size(); }
  const std::vector<std::shared_ptr<Module>>& layers() const { return layers_; }
  // Throws IndexError when i >= size().
  const std::shared_ptr<Module>& layer(size_t i) const;
  // The layer with this name() (Keras's get_layer); throws ValueError listing the names otherwise.
  std::shared_ptr<Module> get_layer(const std::string& name) const;
  // The state dict prefix of layer i: its PyTorch nn.Sequential index ("7" for the first Dense of the
  // reference CNN).
  const std::string& index_name(size_t i) const;

  Tensor forward(const Tensor& x) override;
  // Feeds a list to the first layer (e.g. Concatenate), then runs the rest on its output.
  Tensor forward(const std::vector<Tensor>& xs) override;

 protected:
  Shape build_impl(const Shape& input_shape) override;
  Shape build_impl(const std::vector<Shape>& input_shapes) override;

 private:
  // Rethrows e (raised by layer i on input shape `in`) as a ShapeError naming layer i and layer i - 1.
  [[noreturn]] void rethrow(size_t i, const std::vector<Shape>& in, const ShapeError& e) const;
  // Layer i is Conv2D(activation="relu") and layer i + 1 MaxPooling2D (forward pools before the relu).
  bool pools_before_relu(size_t i) const;
  Shape run_build(size_t from, Shape shape);

  std::vector<std::shared_ptr<Module>> layers_;
  std::vector<std::string> index_names_;
  int64_t next_index_ = 0;
  std::optional<Shape> known_output_;  // the stack's output shape, once its input shape is known
};

}  // namespace cairn::nn
