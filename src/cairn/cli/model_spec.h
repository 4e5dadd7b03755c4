// Models described by data: the `model:` section of a config (a Keras-like layer list), and model files that
// carry that description with the weights, so `cairn evaluate/predict/summary MODEL` can rebuild the network.
//
//   model:
//     input_shape: [1, 28, 28]
//     layers:
//       - Conv2D: {filters: 32, kernel_size: 3, activation: relu}
//       - MaxPooling2D: {pool_size: 2}
//       - Flatten: {}
//       - Dense: {units: 10}
//
// A model file is safetensors: the weights under PyTorch state_dict names, and metadata entries
// "cairn.model" (JSON: layers, input_shape, preprocess, class_names, loss, data).
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "cairn/cli/config.h"
#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/shape.h"

namespace cairn::nn {
class Sequential;
}

namespace cairn::cli {

struct ModelSpec {
  nlohmann::json layers = nlohmann::json::array();  // [{"type": "Dense", "units": 10, ...}, ...]
  Shape input_shape;                                // per sample, without the batch dim
  nlohmann::json preprocess = nlohmann::json::object();
  std::vector<std::string> class_names;
  nlohmann::json loss = nlohmann::json::object();
  nlohmann::json data = nlohmann::json::object();  // the config's data section, so `evaluate MODEL` finds its test set
};

// Reads and validates a `model:` section (unknown layer types or options name the line).
ModelSpec spec_from_config(const Config& model);
// Builds (and shape-checks, by building every layer for the input shape) the network.
std::shared_ptr<nn::Sequential> build_model(const ModelSpec& spec);

void save_model(const std::string& path, const nn::Sequential& net, const ModelSpec& spec);
struct LoadedModel {
  std::shared_ptr<nn::Sequential> net;
  ModelSpec spec;
};
// Throws with the file name when it is not a Cairn model file or its weights do not fit the architecture.
LoadedModel load_model(const std::string& path);

}  // namespace cairn::cli
