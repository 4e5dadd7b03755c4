#include "cairn/cli/model_spec.h"

#include <map>

#include "cairn/io/safetensors.h"
#include "cairn/nn/activations.h"
#include "cairn/nn/layers_conv.h"
#include "cairn/nn/layers_core.h"
#include "cairn/nn/layers_norm.h"
#include "cairn/nn/layers_rnn.h"
#include "cairn/nn/sequential.h"
#include "cairn/nn/weights_io.h"

namespace cairn::cli {
namespace {

using nlohmann::json;

// Options each layer type takes in a config (besides `name`).
const std::map<std::string, std::vector<std::string>>& layer_options() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"Dense", {"units", "activation", "use_bias", "kernel_initializer", "bias_initializer", "seed"}},
      {"Conv2D", {"filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "activation", "use_bias",
                  "kernel_initializer", "bias_initializer", "seed"}},
      {"MaxPooling2D", {"pool_size", "strides", "padding"}},
      {"AveragePooling2D", {"pool_size", "strides", "padding"}},
      {"GlobalAveragePooling2D", {"keepdims"}},
      {"GlobalMaxPooling2D", {"keepdims"}},
      {"Flatten", {}},
      {"Reshape", {"target_shape"}},
      {"Dropout", {"rate", "seed"}},
      {"BatchNormalization", {"momentum", "epsilon", "center", "scale"}},
      {"LayerNormalization", {"epsilon", "center", "scale"}},
      {"Activation", {"activation"}},
      {"Embedding", {"input_dim", "output_dim", "padding_idx", "embeddings_initializer", "seed"}},
      {"LSTM", {"units", "return_sequences", "bidirectional", "num_layers", "dropout", "use_bias", "mask_value", "seed"}},
      {"GRU", {"units", "return_sequences", "bidirectional", "num_layers", "dropout", "use_bias", "mask_value", "seed"}},
  };
  return m;
}

const std::map<std::string, std::vector<std::string>>& required_options() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"Dense", {"units"}}, {"Conv2D", {"filters", "kernel_size"}}, {"Reshape", {"target_shape"}},
      {"Dropout", {"rate"}}, {"Activation", {"activation"}}, {"Embedding", {"input_dim", "output_dim"}},
      {"LSTM", {"units"}}, {"GRU", {"units"}}};
  return m;
}

nn::Size2 size2(const json& j, const std::string& key) {
  if (j.is_array()) {
    CAIRN_CHECK(j.size() == 2, ValueError, key, " must be one integer or [height, width], got ", j.dump());
    return nn::Size2(j[0].get<int64_t>(), j[1].get<int64_t>());
  }
  return nn::Size2(j.get<int64_t>());
}

std::shared_ptr<nn::Module> make_layer(const json& l) {
  const std::string type = l.at("type");
  const std::string name = l.value("name", "");
  auto seed = l.contains("seed") ? std::optional<uint64_t>(l["seed"].get<uint64_t>()) : std::nullopt;
  if (type == "Dense") {
    nn::DenseOptions o;
    o.activation = l.value("activation", "linear");
    o.use_bias = l.value("use_bias", true);
    o.kernel_initializer = l.value("kernel_initializer", "glorot_uniform");
    o.bias_initializer = l.value("bias_initializer", "");
    o.seed = seed;
    o.name = name;
    return std::make_shared<nn::Dense>(l.at("units").get<int64_t>(), o);
  }
  if (type == "Conv2D") {
    nn::Conv2DOptions o;
    if (l.contains("strides")) o.strides = size2(l["strides"], "strides");
    o.padding = l.value("padding", "valid");
    if (l.contains("dilation_rate")) o.dilation = size2(l["dilation_rate"], "dilation_rate");
    o.groups = l.value("groups", int64_t{1});
    o.activation = l.value("activation", "linear");
    o.use_bias = l.value("use_bias", true);
    o.kernel_initializer = l.value("kernel_initializer", "glorot_uniform");
    o.bias_initializer = l.value("bias_initializer", "");
    o.seed = seed;
    o.name = name;
    return std::make_shared<nn::Conv2D>(l.at("filters").get<int64_t>(), size2(l.at("kernel_size"), "kernel_size"), o);
  }
  if (type == "MaxPooling2D" || type == "AveragePooling2D") {
    nn::Size2 pool = l.contains("pool_size") ? size2(l["pool_size"], "pool_size") : nn::Size2(2);
    std::optional<nn::Size2> strides;
    if (l.contains("strides")) strides = size2(l["strides"], "strides");
    if (type == "MaxPooling2D") return std::make_shared<nn::MaxPooling2D>(pool, strides, l.value("padding", "valid"), name);
    return std::make_shared<nn::AveragePooling2D>(pool, strides, l.value("padding", "valid"), name);
  }
  if (type == "GlobalAveragePooling2D") return std::make_shared<nn::GlobalAveragePooling2D>(l.value("keepdims", false), name);
  if (type == "GlobalMaxPooling2D") return std::make_shared<nn::GlobalMaxPooling2D>(l.value("keepdims", false), name);
  if (type == "Flatten") return std::make_shared<nn::Flatten>(name);
  if (type == "Reshape") return std::make_shared<nn::Reshape>(l.at("target_shape").get<Shape>(), name);
  if (type == "Dropout") return std::make_shared<nn::Dropout>(l.at("rate").get<double>(), seed, name);
  if (type == "BatchNormalization") {
    nn::BatchNormOptions o;
    o.momentum = l.value("momentum", 0.99);
    o.epsilon = l.value("epsilon", 1e-3);
    o.center = l.value("center", true);
    o.scale = l.value("scale", true);
    o.name = name;
    return std::make_shared<nn::BatchNormalization>(o);
  }
  if (type == "LayerNormalization") {
    nn::LayerNormOptions o;
    o.epsilon = l.value("epsilon", 1e-3);
    o.center = l.value("center", true);
    o.scale = l.value("scale", true);
    o.name = name;
    return std::make_shared<nn::LayerNormalization>(o);
  }
  if (type == "Activation") return std::make_shared<nn::Activation>(l.at("activation").get<std::string>(), name);
  if (type == "Embedding") {
    nn::EmbeddingOptions o;
    o.padding_idx = l.value("padding_idx", int64_t{-1});
    o.embeddings_initializer = l.value("embeddings_initializer", "uniform");
    o.seed = seed;
    o.name = name;
    return std::make_shared<nn::Embedding>(l.at("input_dim").get<int64_t>(), l.at("output_dim").get<int64_t>(), o);
  }
  if (type == "LSTM" || type == "GRU") {
    nn::RnnOptions o;
    o.return_sequences = l.value("return_sequences", false);
    o.bidirectional = l.value("bidirectional", false);
    o.num_layers = l.value("num_layers", int64_t{1});
    o.dropout = l.value("dropout", 0.0);
    o.use_bias = l.value("use_bias", true);
    if (l.contains("mask_value")) o.mask_value = l["mask_value"].get<double>();
    o.seed = seed;
    o.name = name;
    if (type == "LSTM") return std::make_shared<nn::LSTM>(l.at("units").get<int64_t>(), o);
    return std::make_shared<nn::GRU>(l.at("units").get<int64_t>(), o);
  }
  throw ValueError("unknown layer type '" + type + "'");
}

}  // namespace

ModelSpec spec_from_config(const Config& model) {
  model.check_keys({"input_shape", "layers"});
  ModelSpec spec;
  if (model.has("input_shape")) spec.input_shape = model.get<std::vector<int64_t>>("input_shape", {});
  auto layers = model.list("layers");
  if (layers.empty()) model.fail("needs a non-empty 'layers' list, e.g. layers: [{Dense: {units: 10}}]");
  std::vector<std::string> types;
  for (auto& [t, _] : layer_options()) types.push_back(t);
  for (const Config& entry : layers) {
    auto [type, opts] = entry.single_entry();
    auto it = layer_options().find(type);
    if (it == layer_options().end()) {
      std::string list, hint = closest(type, types);
      for (const auto& t : types) list += (list.empty() ? "" : ", ") + t;
      entry.fail("unknown layer '" + type + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                 "; valid layers: " + list);
    }
    for (const std::string& k : opts.keys()) {
      if (k == "name") continue;
      const auto& valid = it->second;
      if (std::find(valid.begin(), valid.end(), k) == valid.end()) {
        std::string list = "name";
        for (const auto& v : valid) list += ", " + v;
        std::string hint = closest(k, valid);
        opts.fail("unknown option '" + k + "' for " + type + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                      "; valid options: " + list,
                  k);
      }
    }
    if (auto req = required_options().find(type); req != required_options().end())
      for (const auto& r : req->second)
        if (!opts.has(r)) entry.fail(type + " needs '" + r + "'");
    json j = yaml_to_json(opts.node());
    if (!j.is_object()) j = json::object();
    j["type"] = type;
    if (j.contains("activation")) nn::get_activation(j["activation"].get<std::string>(), entry.where() + ": " + type);
    spec.layers.push_back(j);
  }
  return spec;
}

std::shared_ptr<nn::Sequential> build_model(const ModelSpec& spec) {
  auto net = std::make_shared<nn::Sequential>();
  for (const json& l : spec.layers) net->add(make_layer(l));
  if (!spec.input_shape.empty()) net->build(nn::with_batch(spec.input_shape));
  return net;
}

void save_model(const std::string& path, const nn::Sequential& net, const ModelSpec& spec) {
  json j = {{"format", "cairn.model/1"},       {"layers", spec.layers},           {"input_shape", spec.input_shape},
            {"preprocess", spec.preprocess}, {"class_names", spec.class_names}, {"loss", spec.loss},
            {"data", spec.data}};
  nn::save_tensors(path, net.state_dict(), {{"cairn.model", j.dump()}});
}

LoadedModel load_model(const std::string& path) {
  io::SafetensorsReader reader(path);
  auto it = reader.metadata().find("cairn.model");
  CAIRN_CHECK(it != reader.metadata().end(), ValueError, path,
              ": not a Cairn model file (its safetensors metadata has no 'cairn.model' entry). A weights-only file can be "
              "used as outputs.init_weights in a training config.");
  LoadedModel lm;
  try {
    json j = json::parse(it->second);
    lm.spec.layers = j.at("layers");
    lm.spec.input_shape = j.at("input_shape").get<Shape>();
    lm.spec.preprocess = j.value("preprocess", json::object());
    lm.spec.class_names = j.value("class_names", std::vector<std::string>{});
    lm.spec.loss = j.value("loss", json::object());
    lm.spec.data = j.value("data", json::object());
  } catch (const json::exception& e) {
    throw ValueError(detail::cat(path, ": the model description in the metadata is corrupt: ", e.what()));
  }
  lm.net = build_model(lm.spec);
  nn::load_weights(path, *lm.net, true);
  return lm;
}

}  // namespace cairn::cli
