#include "cairn/optim/factory.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace cairn::optim {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Reads options by name, refusing any that `valid` does not list. Aliases map to canonical names.
class OptionReader {
 public:
  OptionReader(std::string who, const std::map<std::string, double>& given, std::vector<std::string> valid,
               std::map<std::string, std::string> aliases = {})
      : who_(std::move(who)) {
    for (const auto& [key, value] : given) {
      const auto alias = aliases.find(key);
      const std::string name = alias != aliases.end() ? alias->second : key;
      if (std::find(valid.begin(), valid.end(), name) == valid.end()) {
        std::string hint = key == "betas" ? "; give the pair as beta1 and beta2" : "";
        throw ValueError(detail::cat(who_, ": unknown option '", key, "'; valid options are ", join(valid), hint));
      }
      CAIRN_CHECK(!values_.count(name), ValueError, who_, ": option '", name, "' is given twice (as '", key,
                  "' and an alias); give it once");
      values_[name] = value;
    }
  }
  void get(const std::string& name, double& out) const {
    if (auto it = values_.find(name); it != values_.end()) out = it->second;
  }
  void get(const std::string& name, bool& out) const {
    if (auto it = values_.find(name); it != values_.end()) {
      CAIRN_CHECK(it->second == 0 || it->second == 1, ValueError, who_, ": option '", name,
                  "' is a boolean and must be 0 or 1, got ", it->second);
      out = it->second == 1;
    }
  }
  void get(const std::string& name, int64_t& out) const {
    if (auto it = values_.find(name); it != values_.end()) {
      CAIRN_CHECK(it->second == std::floor(it->second) && std::abs(it->second) < 9e15, ValueError, who_, ": option '",
                  name, "' must be an integer, got ", it->second);
      out = static_cast<int64_t>(it->second);
    }
  }
  void require(const std::string& name) const {
    CAIRN_CHECK(values_.count(name), ValueError, who_, ": option '", name, "' is required");
  }

 private:
  std::string who_;
  std::map<std::string, double> values_;
};

const std::map<std::string, std::string> kBetaAliases = {{"beta_1", "beta1"}, {"beta_2", "beta2"}};

template <class Options>
Options adam_options(const OptionReader& r) {
  Options o;
  r.get("lr", o.lr);
  r.get("beta1", o.beta1);
  r.get("beta2", o.beta2);
  r.get("eps", o.eps);
  r.get("weight_decay", o.weight_decay);
  r.get("amsgrad", o.amsgrad);
  return o;
}

}  // namespace

std::vector<std::string> optimizer_names() { return {"adagrad", "adam", "adamw", "rmsprop", "sgd"}; }

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<ParamGroup> groups,
                                          const std::map<std::string, double>& options) {
  const std::string n = lower(name);
  const std::string who = "make_optimizer(\"" + name + "\")";
  if (n == "sgd") {
    OptionReader r(who, options, {"lr", "momentum", "dampening", "nesterov", "weight_decay"});
    r.require("lr");
    SGDOptions o;
    r.get("lr", o.lr);
    r.get("momentum", o.momentum);
    r.get("dampening", o.dampening);
    r.get("nesterov", o.nesterov);
    r.get("weight_decay", o.weight_decay);
    return std::make_unique<SGD>(std::move(groups), o);
  }
  if (n == "adam" || n == "adamw") {
    OptionReader r(who, options, {"lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad"}, kBetaAliases);
    if (n == "adam") return std::make_unique<Adam>(std::move(groups), adam_options<AdamOptions>(r));
    return std::make_unique<AdamW>(std::move(groups), adam_options<AdamWOptions>(r));
  }
  if (n == "rmsprop") {
    OptionReader r(who, options, {"lr", "alpha", "eps", "weight_decay", "momentum", "centered"});
    RMSpropOptions o;
    r.get("lr", o.lr);
    r.get("alpha", o.alpha);
    r.get("eps", o.eps);
    r.get("weight_decay", o.weight_decay);
    r.get("momentum", o.momentum);
    r.get("centered", o.centered);
    return std::make_unique<RMSprop>(std::move(groups), o);
  }
  if (n == "adagrad") {
    OptionReader r(who, options, {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"});
    AdagradOptions o;
    r.get("lr", o.lr);
    r.get("lr_decay", o.lr_decay);
    r.get("weight_decay", o.weight_decay);
    r.get("initial_accumulator_value", o.initial_accumulator_value);
    r.get("eps", o.eps);
    return std::make_unique<Adagrad>(std::move(groups), o);
  }
  throw ValueError(detail::cat("make_optimizer: unknown optimizer '", name, "'; valid names are ",
                               join(optimizer_names())));
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params,
                                          const std::map<std::string, double>& options) {
  return make_optimizer(name, one_group(std::move(params)), options);
}

std::unique_ptr<LRScheduler> make_scheduler(const std::string& name, Optimizer& opt,
                                            const std::map<std::string, double>& options) {
  const std::string n = lower(name);
  const std::string who = "make_scheduler(\"" + name + "\")";
  if (n == "step") {
    OptionReader r(who, options, {"step_size", "gamma"});
    r.require("step_size");
    int64_t step_size = 0;
    double gamma = 0.1;
    r.get("step_size", step_size);
    r.get("gamma", gamma);
    return std::make_unique<StepLR>(opt, step_size, gamma);
  }
  if (n == "exponential") {
    OptionReader r(who, options, {"gamma"});
    r.require("gamma");
    double gamma = 0;
    r.get("gamma", gamma);
    return std::make_unique<ExponentialLR>(opt, gamma);
  }
  if (n == "cosine") {
    OptionReader r(who, options, {"warmup_steps", "total_steps", "min_lr"});
    r.require("total_steps");
    int64_t warmup = 0, total = 0;
    double min_lr = 0;
    r.get("warmup_steps", warmup);
    r.get("total_steps", total);
    r.get("min_lr", min_lr);
    return std::make_unique<WarmupCosineLR>(opt, warmup, total, min_lr);
  }
  if (n == "constant") {
    OptionReader r(who, options, {});
    return std::make_unique<LambdaLR>(opt, [](int64_t) { return 1.0; });
  }
  throw ValueError(detail::cat("make_scheduler: unknown schedule '", name,
                               "'; valid names are constant, cosine, exponential, step"));
}

}  // namespace cairn::optim
