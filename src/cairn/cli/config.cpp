#include "cairn/cli/config.h"

#include <algorithm>

namespace cairn::cli {

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError("cannot read config file '" + path + "': no such file or not readable");
  } catch (const YAML::ParserException& e) {
    throw ConfigError(detail::cat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg));
  }
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw ConfigError(path + ": the top level of a config must be a mapping (key: value)");
  for (const std::string& o : overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError("--set '" + o + "': expected key.path=value, e.g. --set fit.epochs=2");
    std::string key = o.substr(0, eq), value = o.substr(eq + 1);
    std::vector<std::string> parts;
    for (size_t s = 0, d; s <= key.size(); s = d + 1) {
      d = key.find('.', s);
      if (d == std::string::npos) d = key.size();
      parts.push_back(key.substr(s, d - s));
    }
    // yaml-cpp nodes are handles: walk down by reassigning copies that alias the tree.
    std::vector<YAML::Node> chain{root};
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      YAML::Node next = chain.back()[parts[i]];
      if (next.IsDefined() && !next.IsMap())
        throw ConfigError("--set " + key + ": '" + parts[i] + "' is not a section (mapping)");
      if (!next.IsDefined()) chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      chain.push_back(chain.back()[parts[i]]);
    }
    YAML::Node v;
    try {
      v = YAML::Load(value);
    } catch (const YAML::Exception& e) {
      throw ConfigError("--set " + o + ": value is not valid YAML: " + e.msg);
    }
    chain.back()[parts.back()] = v;
  }
  return Config(root, std::make_shared<const std::string>(path), "");
}

Config Config::from_string(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(detail::cat(name, ":", e.mark.line + 1, ": YAML syntax error: ", e.msg));
  }
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  return Config(root, std::make_shared<const std::string>(name), "");
}

bool Config::has(const std::string& key) const { return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull(); }

Config Config::section(const std::string& key) const {
  std::string name = section_.empty() ? key : section_ + "." + key;
  if (!has(key)) return Config(YAML::Node(YAML::NodeType::Map), file_, name);
  YAML::Node n = node_[key];
  if (!n.IsMap()) fail("'" + key + "' must be a mapping (key: value lines)", key);
  return Config(n, file_, name);
}

std::vector<Config> Config::list(const std::string& key) const {
  std::vector<Config> out;
  if (!has(key)) return out;
  YAML::Node n = node_[key];
  if (!n.IsSequence()) fail("'" + key + "' must be a list (lines starting with '- ')", key);
  std::string name = section_.empty() ? key : section_ + "." + key;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(Config(n[i], file_, name + "[" + std::to_string(i) + "]"));
  return out;
}

std::pair<std::string, Config> Config::single_entry() const {
  if (node_.IsScalar()) return {node_.as<std::string>(), Config(YAML::Node(YAML::NodeType::Map), file_, section_)};
  if (!node_.IsMap() || node_.size() != 1)
    fail("expected a single 'Name: {options}' entry, e.g. '- Dense: {units: 10}'");
  auto it = node_.begin();
  std::string name = it->first.as<std::string>();
  YAML::Node body = it->second;
  if (body.IsNull()) body = YAML::Node(YAML::NodeType::Map);
  if (!body.IsMap()) fail("the options of '" + name + "' must be a mapping, e.g. {units: 10}");
  return {name, Config(body, file_, section_ + "." + name)};
}

std::vector<std::string> Config::keys() const {
  std::vector<std::string> k;
  if (node_.IsMap())
    for (auto it = node_.begin(); it != node_.end(); ++it) k.push_back(it->first.as<std::string>());
  return k;
}

void Config::check_keys(std::initializer_list<std::string_view> allowed) const {
  std::vector<std::string> valid(allowed.begin(), allowed.end());
  for (const std::string& k : keys()) {
    if (std::find(valid.begin(), valid.end(), k) != valid.end()) continue;
    std::string list;
    for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
    std::string hint = closest(k, valid);
    fail("unknown key '" + k + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; valid keys: " + list, k);
  }
}

std::string Config::where(const std::string& key) const {
  YAML::Mark m = node_.Mark();
  if (!key.empty() && node_.IsMap()) {
    for (auto it = node_.begin(); it != node_.end(); ++it)
      if (it->first.as<std::string>() == key) m = it->first.Mark();
  }
  if (m.line < 0) return *file_ + " (--set)";
  return detail::cat(*file_, ":", m.line + 1);
}

void Config::fail(const std::string& msg, const std::string& key) const {
  throw ConfigError(where(key) + ": " + (section_.empty() ? "" : section_ + ": ") + msg);
}

int64_t data_parallel_of(const Config& fit, int64_t fallback) {
  const auto parts = fit.get<int64_t>("data_parallel", fallback);
  if (parts < 0) fit.fail("data_parallel must be >= 0 (0: one part of each batch per thread, 1: off)", "data_parallel");
  return parts;
}

Config evaluation_data_section(const std::vector<std::string>& args, const nlohmann::json& recorded) {
  return args.size() == 2 ? Config::load(args[1]).section("data")
                          : Config::from_string(recorded.dump(), args[0] + " (recorded data section)");
}

nlohmann::json yaml_to_json(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return nullptr;
  if (n.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& e : n) a.push_back(yaml_to_json(e));
    return a;
  }
  if (n.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (auto it = n.begin(); it != n.end(); ++it) o[it->first.as<std::string>()] = yaml_to_json(it->second);
    return o;
  }
  const std::string s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: a string
  int64_t i;
  double d;
  bool b;
  if (YAML::convert<int64_t>::decode(n, i)) return i;
  if (YAML::convert<double>::decode(n, d)) return d;
  if (YAML::convert<bool>::decode(n, b)) return b;
  return s;
}

std::string closest(std::string_view word, const std::vector<std::string>& options) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& o : options) {
    std::vector<size_t> prev(o.size() + 1), cur(o.size() + 1);
    for (size_t j = 0; j <= o.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= o.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (std::tolower(word[i - 1]) != std::tolower(o[j - 1]))});
      std::swap(prev, cur);
    }
    if (prev[o.size()] < best_d) {
      best_d = prev[o.size()];
      best = o;
    }
  }
  return best;
}

}  // namespace cairn::cli
