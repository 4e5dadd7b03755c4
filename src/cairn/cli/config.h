// YAML configuration for the `cairn` command line, read strictly: every section says which keys it takes,
// and anything else is an error naming the file, the line and the key, with the valid keys listed.
//
//   Config cfg = Config::load("examples/fashion_mnist_cnn.yaml", {"fit.epochs=2"});
//   Config fit = cfg.section("fit");
//   fit.check_keys({"epochs", "batch_size"});
//   int64_t epochs = fit.get<int64_t>("epochs", 1);
#pragma once
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/core/tensor/error.h"

namespace cairn::cli {

class ConfigError : public Error {
  using Error::Error;
};

class Config {
 public:
  // Loads `path` and applies `overrides` ("a.b.c=value", value parsed as YAML) on top.
  static Config load(const std::string& path, const std::vector<std::string>& overrides = {});
  static Config from_string(const std::string& yaml, const std::string& name = "<string>");

  // A sub-mapping (an empty one when absent). Throws when the key holds something other than a mapping.
  Config section(const std::string& key) const;
  bool has(const std::string& key) const;
  // The entries of a sequence (empty when absent).
  std::vector<Config> list(const std::string& key) const;
  // For a list entry like `- Dense: {units: 10}`: the single key ("Dense") and its mapping.
  std::pair<std::string, Config> single_entry() const;
  std::vector<std::string> keys() const;
  bool is_map() const { return node_.IsMap(); }
  bool is_scalar() const { return node_.IsScalar(); }

  template <class T> T get(const std::string& key, const T& fallback) const {
    if (!has(key)) return fallback;
    return as<T>(key);
  }
  template <class T> T require(const std::string& key) const {
    if (!has(key)) fail("missing required key '" + key + "'");
    return as<T>(key);
  }
  // The whole node as T (a scalar list entry, for example).
  template <class T> T value() const {
    try {
      return node_.as<T>();
    } catch (const YAML::Exception&) {
      fail("expected " + type_name<T>() + ", got '" + YAML::Dump(node_) + "'");
    }
  }
  // Throws ConfigError naming the first key not in `allowed`, with its line and the valid keys.
  void check_keys(std::initializer_list<std::string_view> allowed) const;

  // "file:line" of this node, or of `key` inside it.
  std::string where(const std::string& key = "") const;
  const std::string& section_name() const { return section_; }
  [[noreturn]] void fail(const std::string& msg, const std::string& key = "") const;
  const YAML::Node& node() const { return node_; }

 private:
  Config(YAML::Node node, std::shared_ptr<const std::string> file, std::string section)
      : node_(std::move(node)), file_(std::move(file)), section_(std::move(section)) {}
  template <class T> static std::string type_name();
  template <class T> T as(const std::string& key) const {
    try {
      return node_[key].as<T>();
    } catch (const YAML::Exception&) {
      fail("expected " + type_name<T>() + " for '" + key + "', got '" + YAML::Dump(node_[key]) + "'", key);
    }
  }
  YAML::Node node_;
  std::shared_ptr<const std::string> file_;
  std::string section_;
};

template <class T> std::string Config::type_name() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else return "a list";
}

// A YAML node as JSON (scalars typed: integer, number, true/false, else string), to record config sections
// in model files.
nlohmann::json yaml_to_json(const YAML::Node& node);

// The data section `cairn evaluate MODEL [CONFIG.yaml]` reads (args: MODEL and maybe CONFIG): CONFIG's, else
// the section recorded in MODEL at training time (errors then name "MODEL (recorded data section)").
Config evaluation_data_section(const std::vector<std::string>& args, const nlohmann::json& recorded);

// fit.data_parallel: the parts each training batch is cut into, run at once (train/data_parallel.h); 0 one per
// thread, 1 off; `fallback` when the key is absent. A negative value is a config error naming the key.
int64_t data_parallel_of(const Config& fit, int64_t fallback);

// The closest of `options` to `word` (edit distance), for "did you mean" hints; empty when none is close.
std::string closest(std::string_view word, const std::vector<std::string>& options);

}  // namespace cairn::cli
