// Keras-style model summary.
//
//   std::cout << cairn::nn::summary(model, {-1, 1, 28, 28});
//
//   Model: "sequential"
//   ____________________________________________________________________
//    Layer (type)                    Output Shape              Param #
//   ====================================================================
//    conv2d (Conv2D)                 (None, 32, 26, 26)        320
//    ...
//   ====================================================================
//   Total params: 225,034
//   Trainable params: 225,034
//   Non-trainable params: 0
//   ____________________________________________________________________
//
// One row per layer of a Sequential, per direct child of any other module (or one row for a lone layer).
// Shapes are channels first; the batch dimension prints as None. Param # counts parameters plus floating
// buffers (BatchNormalization's running mean and variance, as Keras counts its moving statistics);
// non-trainable = frozen parameters + those buffers.
#pragma once
#include <optional>
#include <string>

#include "cairn/nn/module.h"

namespace cairn::nn {

// Builds `model` with input_shape (batch dim first, -1 for unknown) and renders the table. Throws what
// build() throws (ShapeError naming the layers that disagree).
std::string summary(Module& model, const Shape& input_shape);
// Uses the input shape declared by input_shape= on the first layer, or the shapes of the last build() or
// forward(). Throws ValueError when the model was never built and declares no input shape.
std::string summary(Module& model);

struct ParamCounts {
  int64_t total = 0, trainable = 0, non_trainable = 0;
};
// The counts summary() prints, for a module and everything below it.
ParamCounts count_parameters(const Module& m);

// 225034 -> "225,034".
std::string with_commas(int64_t n);

}  // namespace cairn::nn
