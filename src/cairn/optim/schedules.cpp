#include "cairn/optim/schedules.h"

#include <cmath>
#include <limits>
#include <numbers>

#include "cairn/core/ops/ops.h"

namespace cairn::optim {

namespace {

const Tensor& entry(const std::map<std::string, Tensor>& dict, const std::string& key, const std::string& who) {
  auto it = dict.find(key);
  CAIRN_CHECK(it != dict.end(), ValueError, who, ".load_state_dict: key '", key,
              "' is missing; pass a dict made by state_dict() of the same kind of scheduler");
  CAIRN_CHECK(it->second.defined() && it->second.numel() == 1, ValueError, who, ".load_state_dict: '", key,
              "' must hold one number");
  return it->second;
}

double number(const std::map<std::string, Tensor>& dict, const std::string& key, const std::string& who) {
  return entry(dict, key, who).item();
}

// Counts are stored as int64 tensors; reading one as a double is exact below 2^53.
int64_t count(const std::map<std::string, Tensor>& dict, const std::string& key, const std::string& who) {
  const double v = number(dict, key, who);
  CAIRN_CHECK(v == std::floor(v) && std::abs(v) < 9e15, ValueError, who, ".load_state_dict: '", key,
              "' must be an integer, got ", v);
  return static_cast<int64_t>(v);
}

void check_keys(const std::map<std::string, Tensor>& dict, const std::vector<std::string>& known, const std::string& who) {
  for (const auto& [key, value] : dict) {
    bool ok = false;
    for (const auto& k : known) ok = ok || k == key;
    CAIRN_CHECK(ok, ValueError, who, ".load_state_dict: unknown key '", key,
                "'; was the state dict saved from another kind of scheduler?");
  }
}

Tensor f64(double v) { return scalar_tensor(v, DType::f64); }
Tensor i64(int64_t v) { return scalar_tensor(static_cast<double>(v), DType::i64); }

}  // namespace

// ---- LRScheduler ----

LRScheduler::LRScheduler(Optimizer& opt, std::string name) : opt_(opt), name_(std::move(name)) {
  for (const auto& g : opt.param_groups()) base_lrs_.push_back(*g.lr);
}

void LRScheduler::start() {
  last_epoch_ = 0;
  apply();
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

void LRScheduler::apply() {
  CAIRN_CHECK(base_lrs_.size() == opt_.param_groups().size(), ValueError, name_, ": the optimizer has ",
              opt_.param_groups().size(), " parameter groups but the scheduler was built over ", base_lrs_.size(),
              "; build the scheduler after the last add_param_group");
  std::vector<double> lrs;
  for (double base : base_lrs_) {
    const double lr = lr_for(last_epoch_, base);
    CAIRN_CHECK(std::isfinite(lr) && lr >= 0, ValueError, name_, ": the schedule gives lr ", lr, " at step ",
                last_epoch_, "; a learning rate must be >= 0 and finite (check the schedule's function or options)");
    lrs.push_back(lr);
  }
  for (size_t g = 0; g < lrs.size(); ++g) opt_.set_group_lr(g, lrs[g]);
}

std::map<std::string, Tensor> LRScheduler::state_dict() const {
  std::map<std::string, Tensor> out{{"last_epoch", i64(last_epoch_)}};
  for (size_t g = 0; g < base_lrs_.size(); ++g) out["base_lr." + std::to_string(g)] = f64(base_lrs_[g]);
  for (const auto& [k, v] : options()) out["option." + k] = f64(v);
  return out;
}

void LRScheduler::load_state_dict(const std::map<std::string, Tensor>& dict) {
  std::vector<std::string> known{"last_epoch"};
  std::map<std::string, double> opts;
  for (const auto& [k, v] : options()) {
    known.push_back("option." + k);
    opts[k] = number(dict, "option." + k, name_);
  }
  std::vector<double> bases;
  for (size_t g = 0; g < base_lrs_.size(); ++g) {
    const std::string key = "base_lr." + std::to_string(g);
    known.push_back(key);
    bases.push_back(number(dict, key, name_));
    CAIRN_CHECK(std::isfinite(bases.back()) && bases.back() >= 0, ValueError, name_, ".load_state_dict: ", key,
                " must be >= 0, got ", bases.back());
  }
  check_keys(dict, known, name_);  // also catches a dict saved over more parameter groups
  const int64_t last = count(dict, "last_epoch", name_);
  CAIRN_CHECK(last >= 0, ValueError, name_, ".load_state_dict: last_epoch must be >= 0, got ", last);
  const auto old_opts = options();
  set_options(opts);  // validates before changing
  const std::vector<double> old_bases = base_lrs_;
  const int64_t old_last = last_epoch_;
  base_lrs_ = bases;
  last_epoch_ = last;
  try {
    apply();
  } catch (...) {
    base_lrs_ = old_bases;
    last_epoch_ = old_last;
    set_options(old_opts);
    throw;
  }
}

// ---- StepLR ----

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt, "StepLR") {
  set_options({{"step_size", static_cast<double>(step_size)}, {"gamma", gamma}});
  start();
}

double StepLR::lr_for(int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

std::map<std::string, double> StepLR::options() const {
  return {{"step_size", static_cast<double>(step_size_)}, {"gamma", gamma_}};
}

void StepLR::set_options(const std::map<std::string, double>& v) {
  const double step_size = v.at("step_size"), gamma = v.at("gamma");
  CAIRN_CHECK(step_size >= 1 && step_size == std::floor(step_size) && step_size < 9e15, ValueError,
              "StepLR: step_size must be an integer >= 1, got ", step_size);
  CAIRN_CHECK(std::isfinite(gamma) && gamma > 0, ValueError, "StepLR: gamma must be > 0, got ", gamma);
  step_size_ = static_cast<int64_t>(step_size);
  gamma_ = gamma;
}

// ---- ExponentialLR ----

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt, "ExponentialLR") {
  set_options({{"gamma", gamma}});
  start();
}

double ExponentialLR::lr_for(int64_t epoch, double base_lr) const { return base_lr * std::pow(gamma_, static_cast<double>(epoch)); }

std::map<std::string, double> ExponentialLR::options() const { return {{"gamma", gamma_}}; }

void ExponentialLR::set_options(const std::map<std::string, double>& v) {
  const double gamma = v.at("gamma");
  CAIRN_CHECK(std::isfinite(gamma) && gamma > 0, ValueError, "ExponentialLR: gamma must be > 0, got ", gamma);
  gamma_ = gamma;
}

// ---- WarmupCosineLR ----

WarmupCosineLR::WarmupCosineLR(Optimizer& opt, int64_t warmup_steps, int64_t total_steps, double min_lr)
    : LRScheduler(opt, "WarmupCosineLR") {
  set_options({{"warmup_steps", static_cast<double>(warmup_steps)},
               {"total_steps", static_cast<double>(total_steps)},
               {"min_lr", min_lr}});
  start();
}

double WarmupCosineLR::lr_for(int64_t epoch, double base_lr) const {
  if (epoch < warmup_) return base_lr * static_cast<double>(epoch) / static_cast<double>(warmup_);
  if (epoch > total_) return min_lr_;
  const double ratio = static_cast<double>(epoch - warmup_) / static_cast<double>(total_ - warmup_);
  const double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * ratio));
  return min_lr_ + coeff * (base_lr - min_lr_);
}

std::map<std::string, double> WarmupCosineLR::options() const {
  return {{"warmup_steps", static_cast<double>(warmup_)},
          {"total_steps", static_cast<double>(total_)},
          {"min_lr", min_lr_}};
}

void WarmupCosineLR::set_options(const std::map<std::string, double>& v) {
  const double warmup = v.at("warmup_steps"), total = v.at("total_steps"), min_lr = v.at("min_lr");
  CAIRN_CHECK(warmup >= 0 && warmup == std::floor(warmup) && total == std::floor(total) && warmup < total &&
                  total < 9e15,
              ValueError, "WarmupCosineLR: need integers 0 <= warmup_steps < total_steps, got warmup_steps ", warmup,
              " and total_steps ", total);
  CAIRN_CHECK(std::isfinite(min_lr) && min_lr >= 0, ValueError, "WarmupCosineLR: min_lr must be >= 0, got ", min_lr);
  warmup_ = static_cast<int64_t>(warmup);
  total_ = static_cast<int64_t>(total);
  min_lr_ = min_lr;
}

// ---- LambdaLR ----

LambdaLR::LambdaLR(Optimizer& opt, std::function<double(int64_t)> factor)
    : LRScheduler(opt, "LambdaLR"), factor_(std::move(factor)) {
  CAIRN_CHECK(factor_ != nullptr, ValueError, "LambdaLR: the factor function is empty");
  start();
}

double LambdaLR::lr_for(int64_t epoch, double base_lr) const { return base_lr * factor_(epoch); }

// ---- ReduceLROnPlateau ----

PlateauOptions ReduceLROnPlateau::validated(PlateauOptions o) {
  CAIRN_CHECK(o.mode == "min" || o.mode == "max", ValueError, "ReduceLROnPlateau: mode must be 'min' or 'max', got '",
              o.mode, "'");
  CAIRN_CHECK(o.threshold_mode == "rel" || o.threshold_mode == "abs", ValueError,
              "ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got '", o.threshold_mode, "'");
  CAIRN_CHECK(o.factor >= 0 && o.factor < 1, ValueError, "ReduceLROnPlateau: factor must be in [0, 1), got ",
              o.factor, " (PyTorch: 'Factor should be < 1.0.')");
  CAIRN_CHECK(o.patience >= 0, ValueError, "ReduceLROnPlateau: patience must be >= 0, got ", o.patience);
  CAIRN_CHECK(o.cooldown >= 0, ValueError, "ReduceLROnPlateau: cooldown must be >= 0, got ", o.cooldown);
  CAIRN_CHECK(std::isfinite(o.threshold) && o.threshold >= 0, ValueError,
              "ReduceLROnPlateau: threshold must be >= 0, got ", o.threshold);
  CAIRN_CHECK(std::isfinite(o.min_lr) && o.min_lr >= 0, ValueError, "ReduceLROnPlateau: min_lr must be >= 0, got ",
              o.min_lr);
  CAIRN_CHECK(std::isfinite(o.eps) && o.eps >= 0, ValueError, "ReduceLROnPlateau: eps must be >= 0, got ", o.eps);
  return o;
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, PlateauOptions opts) : opt_(opt), opts_(validated(opts)) {
  best_ = opts_.mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const bool rel = opts_.threshold_mode == "rel";
  if (opts_.mode == "min") return rel ? a < best * (1.0 - opts_.threshold) : a < best - opts_.threshold;
  return rel ? a > best * (opts_.threshold + 1.0) : a > best + opts_.threshold;
}

bool ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad steps during cooldown do not count
  }
  if (num_bad_epochs_ <= opts_.patience) return false;
  bool reduced = false;
  for (size_t g = 0; g < opt_.param_groups().size(); ++g) {
    const double old_lr = *opt_.param_groups()[g].lr;
    const double new_lr = std::max(old_lr * opts_.factor, opts_.min_lr);
    if (old_lr - new_lr > opts_.eps) {
      opt_.set_group_lr(g, new_lr);
      reduced = true;
    }
  }
  cooldown_counter_ = opts_.cooldown;
  num_bad_epochs_ = 0;
  return reduced;
}

std::map<std::string, Tensor> ReduceLROnPlateau::state_dict() const {
  return {{"last_epoch", i64(last_epoch_)},
          {"num_bad_epochs", i64(num_bad_epochs_)},
          {"cooldown_counter", i64(cooldown_counter_)},
          {"best", f64(best_)},
          {"option.mode_max", f64(opts_.mode == "max" ? 1 : 0)},
          {"option.threshold_abs", f64(opts_.threshold_mode == "abs" ? 1 : 0)},
          {"option.factor", f64(opts_.factor)},
          {"option.patience", i64(opts_.patience)},
          {"option.threshold", f64(opts_.threshold)},
          {"option.cooldown", i64(opts_.cooldown)},
          {"option.min_lr", f64(opts_.min_lr)},
          {"option.eps", f64(opts_.eps)}};
}

void ReduceLROnPlateau::load_state_dict(const std::map<std::string, Tensor>& dict) {
  const std::string who = "ReduceLROnPlateau";
  check_keys(dict,
             {"last_epoch", "num_bad_epochs", "cooldown_counter", "best", "option.mode_max", "option.threshold_abs",
              "option.factor", "option.patience", "option.threshold", "option.cooldown", "option.min_lr", "option.eps"},
             who);
  PlateauOptions o;
  o.mode = number(dict, "option.mode_max", who) != 0 ? "max" : "min";
  o.threshold_mode = number(dict, "option.threshold_abs", who) != 0 ? "abs" : "rel";
  o.factor = number(dict, "option.factor", who);
  o.patience = count(dict, "option.patience", who);
  o.threshold = number(dict, "option.threshold", who);
  o.cooldown = count(dict, "option.cooldown", who);
  o.min_lr = number(dict, "option.min_lr", who);
  o.eps = number(dict, "option.eps", who);
  o = validated(o);
  const int64_t last = count(dict, "last_epoch", who), bad = count(dict, "num_bad_epochs", who),
                cool = count(dict, "cooldown_counter", who);
  CAIRN_CHECK(last >= 0 && bad >= 0 && cool >= 0, ValueError, who,
              ".load_state_dict: last_epoch, num_bad_epochs and cooldown_counter must be >= 0");
  best_ = number(dict, "best", who);  // may be +-inf before the first step
  opts_ = o;
  last_epoch_ = last;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cool;
}

}  // namespace cairn::optim
