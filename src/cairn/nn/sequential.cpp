#include "cairn/nn/sequential.h"

#include <sstream>

#include "cairn/core/ops/ops.h"
#include "cairn/nn/layers_conv.h"

namespace cairn::nn {

namespace {
// Rethrows e, raised by `layer` (index i) on input shapes `in`, as a ShapeError naming it and the layer
// before it (`prev`, null for the first layer).
[[noreturn]] void rethrow_between(size_t i, const Module& layer, const Module* prev, const std::vector<Shape>& in,
                                  const ShapeError& e) {
  std::string in_str;
  for (const auto& s : in) in_str += (in_str.empty() ? "" : ", ") + shape_str(s);
  std::ostringstream os;
  os << "layer " << i << " '" << layer.name() << "' (" << layer.type_name() << ")";
  const std::string spec = layer.input_spec();
  const std::string source =
      prev ? detail::cat("layer ", i - 1, " '", prev->name(), "' (", prev->type_name(), ") outputs ", in_str)
           : "the model input is " + in_str;
  if (!spec.empty()) os << " expects input " << spec << " but " << source;
  else os << " rejects its input: " << source;
  const auto* li = dynamic_cast<const LayerInputError*>(&e);
  os << ": " << (li ? li->reason() : std::string(e.what()));
  throw ShapeError(os.str());
}
}  // namespace

Sequential::Sequential() : Module("Sequential") {}

Sequential::Sequential(std::vector<std::shared_ptr<Module>> layers, std::string name) : Module("Sequential") {
  configure(name, std::nullopt, std::nullopt);
  for (auto& l : layers) add(std::move(l));
}

const std::shared_ptr<Module>& Sequential::layer(size_t i) const {
  CAIRN_CHECK(i < layers_.size(), IndexError, where(), ": layer index ", i, " is out of range (", layers_.size(),
              " layers)");
  return layers_[i];
}

const std::string& Sequential::index_name(size_t i) const {
  layer(i);
  return index_names_[i];
}

std::shared_ptr<Module> Sequential::get_layer(const std::string& name) const {
  std::string names;
  for (const auto& l : layers_) {
    if (l->name() == name) return l;
    names += (names.empty() ? "" : ", ") + l->name();
  }
  throw ValueError(detail::cat(where(), ": no layer named '", name, "'; layers: ", names.empty() ? "none" : names));
}

Sequential& Sequential::add(std::shared_ptr<Module> layer) {
  CAIRN_CHECK(layer != nullptr, ValueError, where(), ": cannot add a null layer");
  for (const auto& l : layers_)
    CAIRN_CHECK(l != layer, ValueError, where(), ": layer ", layer->where(),
                " is already in this model; create a new layer (layers own their weights)");
  const size_t i = layers_.size();
  if (i == 0 && layer->declared_input_shape()) {
    configure(name(), std::nullopt, layer->declared_input_shape());
    known_output_ = layer->last_output_shape();  // the layer built itself from input_shape
  } else if (known_output_) {
    try {
      known_output_ = layer->build(*known_output_);
    } catch (const ShapeError& e) {
      rethrow_between(i, *layer, i ? layers_[i - 1].get() : nullptr, {*known_output_}, e);  // not added
    }
  }
  const std::string key = std::to_string(next_index_);
  register_module(key, layer);
  layers_.push_back(layer);
  index_names_.push_back(key);
  next_index_ += layer->has_fused_activation() ? 2 : 1;
  return *this;
}

void Sequential::rethrow(size_t i, const std::vector<Shape>& in, const ShapeError& e) const {
  rethrow_between(i, *layers_[i], i ? layers_[i - 1].get() : nullptr, in, e);
}

Shape Sequential::run_build(size_t from, Shape shape) {
  for (size_t i = from; i < layers_.size(); ++i) {
    try {
      shape = layers_[i]->build(shape);
    } catch (const ShapeError& e) {
      rethrow(i, {shape}, e);
    }
  }
  return shape;
}

Shape Sequential::build_impl(const Shape& input_shape) {
  Shape out = run_build(0, input_shape);
  known_output_ = out;
  return out;
}

Shape Sequential::build_impl(const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() == 1) return build_impl(input_shapes[0]);
  CAIRN_CHECK(!layers_.empty(), ValueError, where(), ": an empty Sequential cannot take ", input_shapes.size(),
              " inputs");
  Shape first;
  try {
    first = layers_[0]->build(input_shapes);
  } catch (const ShapeError& e) {
    rethrow(0, input_shapes, e);
  }
  Shape out = run_build(1, first);
  known_output_ = out;
  return out;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    // Conv2D(activation="relu") then MaxPooling2D: max pooling and relu commute (relu is monotone, and the pooled
    // gradient reaches the same element under the same mask), so pool first and apply relu to a quarter of the
    // data. Values and gradients are those of the two layers one after the other.
    const bool pool_first = pools_before_relu(i);
    size_t at = i;
    try {
      if (pool_first) {
        y = static_cast<Conv2D&>(*layers_[i]).forward_without_activation(y);
        at = i + 1;
        y = relu(layers_[i + 1]->forward(y));
      } else {
        y = layers_[i]->forward(y);
      }
    } catch (const ShapeError& e) {
      rethrow(at, {y.shape()}, e);
    }
    if (pool_first) ++i;
  }
  return y;
}

bool Sequential::pools_before_relu(size_t i) const {
  if (i + 1 >= layers_.size()) return false;
  const auto* conv = dynamic_cast<const Conv2D*>(layers_[i].get());
  return conv && conv->activation() == "relu" && dynamic_cast<const MaxPooling2D*>(layers_[i + 1].get());
}

Tensor Sequential::forward(const std::vector<Tensor>& xs) {
  if (xs.size() == 1) return forward(xs[0]);
  CAIRN_CHECK(!layers_.empty(), ValueError, where(), ": an empty Sequential cannot take ", xs.size(), " inputs");
  Tensor y;
  try {
    y = layers_[0]->forward(xs);
  } catch (const ShapeError& e) {
    std::vector<Shape> shapes;
    for (const auto& x : xs) shapes.push_back(x.shape());
    rethrow(0, shapes, e);
  }
  for (size_t i = 1; i < layers_.size(); ++i) {
    try {
      y = layers_[i]->forward(y);
    } catch (const ShapeError& e) {
      rethrow(i, {y.shape()}, e);
    }
  }
  return y;
}

}  // namespace cairn::nn
