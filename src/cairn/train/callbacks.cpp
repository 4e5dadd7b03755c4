#include "cairn/train/callbacks.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "cairn/core/autograd/autograd.h"
#include "cairn/nn/module.h"
#include "cairn/nn/weights_io.h"
#include "cairn/optim/optimizer.h"
#include "cairn/train/model.h"

namespace cairn::train {

std::optional<double> log_value(const Logs& logs, const std::string& key) {
  for (const auto& [k, v] : logs)
    if (k == key) return v;
  return std::nullopt;
}

namespace {
double require(const Logs& logs, const std::string& key, const char* who) {
  auto v = log_value(logs, key);
  if (!v) {
    std::string have;
    for (const auto& [k, _] : logs) have += (have.empty() ? "" : ", ") + k;
    throw ValueError(detail::cat(who, ": monitored value '", key, "' is not in the epoch logs (available: ", have,
                                 "); monitor one of those, or give validation data for val_* values"));
  }
  return *v;
}
}  // namespace

Monitor::Monitor(std::string monitor, std::string mode, double min_delta)
    : monitor_(std::move(monitor)), min_delta_(std::abs(min_delta)) {
  CAIRN_CHECK(mode == "auto" || mode == "min" || mode == "max", ValueError, "mode must be auto, min or max, got '", mode,
              "'");
  minimize_ = mode == "min" || (mode == "auto" && monitor_.find("acc") == std::string::npos &&
                                monitor_.find("auc") == std::string::npos && monitor_.find("f1") == std::string::npos &&
                                monitor_.find("precision") == std::string::npos && monitor_.find("recall") == std::string::npos);
  best_ = minimize_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool Monitor::improved(double v) const { return minimize_ ? v < best_ - min_delta_ : v > best_ + min_delta_; }

EarlyStopping::EarlyStopping(std::string monitor, int64_t patience, double min_delta, std::string mode, bool restore)
    : monitor_(std::move(monitor), std::move(mode), min_delta), patience_(patience), restore_(restore) {}

void EarlyStopping::on_train_begin(const Logs&) {
  wait_ = 0;
  stopped_epoch_ = -1;
}

void EarlyStopping::on_epoch_end(int64_t epoch, const Logs& logs) {
  double v = require(logs, monitor_.name(), "EarlyStopping");
  if (monitor_.improved(v)) {
    monitor_.record(v);
    wait_ = 0;
    best_epoch_ = epoch;
    if (restore_) {
      best_weights_ = nn::StateDict();
      for (auto& [k, t] : model_->net().state_dict()) best_weights_.insert(k, t.detach().clone());
    }
    return;
  }
  if (++wait_ >= patience_ && epoch > 0) {  // Keras: stop once `patience` epochs in a row did not improve
    stopped_epoch_ = epoch;
    model_->stop_training = true;
  }
}

void EarlyStopping::on_train_end(const Logs&) {
  if (restore_ && !best_weights_.empty() && stopped_epoch_ >= 0) model_->net().load_state_dict(best_weights_, true);
}

ModelCheckpoint::ModelCheckpoint(std::string path, std::string monitor, bool best_only, std::string mode)
    : path_(std::move(path)), monitor_(std::move(monitor), std::move(mode), 0.0), best_only_(best_only) {}

void ModelCheckpoint::on_epoch_end(int64_t epoch, const Logs& logs) {
  std::string path = path_;
  if (auto at = path.find("{epoch}"); at != std::string::npos) path.replace(at, 7, std::to_string(epoch + 1));
  if (best_only_) {
    double v = require(logs, monitor_.name(), "ModelCheckpoint");
    if (!monitor_.improved(v)) return;
    monitor_.record(v);
  }
  nn::save_weights(path, model_->net());
}

void LearningRateScheduler::on_epoch_begin(int64_t epoch, const Logs&) {
  auto* opt = model_->optimizer();
  opt->set_lr(schedule_(epoch, opt->lr()));
}

ReduceLROnPlateau::ReduceLROnPlateau(std::string monitor, double factor, int64_t patience, std::string mode,
                                     double min_delta, int64_t cooldown, double min_lr)
    : monitor_(std::move(monitor), std::move(mode), min_delta), factor_(factor), min_lr_(min_lr), patience_(patience),
      cooldown_(cooldown) {
  CAIRN_CHECK(factor > 0 && factor < 1, ValueError, "ReduceLROnPlateau: factor must be in (0, 1), got ", factor);
}

void ReduceLROnPlateau::on_epoch_end(int64_t, const Logs& logs) {
  double v = require(logs, monitor_.name(), "ReduceLROnPlateau");
  if (cooldown_left_ > 0) {
    cooldown_left_--;
    wait_ = 0;
  }
  if (monitor_.improved(v)) {
    monitor_.record(v);
    wait_ = 0;
    return;
  }
  if (cooldown_left_ == 0 && ++wait_ >= patience_) {
    auto* opt = model_->optimizer();
    double lr = opt->lr();
    if (lr > min_lr_) opt->set_lr(std::max(lr * factor_, min_lr_));
    cooldown_left_ = cooldown_;
    wait_ = 0;
  }
}

void CSVLogger::on_train_begin(const Logs&) {
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);  // a failure shows in fopen's message
  f_ = std::fopen(path_.c_str(), append_ ? "a" : "w");
  CAIRN_CHECK(f_ != nullptr, Error, "CSVLogger: cannot open '", path_, "' for writing: ", std::strerror(errno));
  header_done_ = append_ && std::ftell(f_) > 0;
}

void CSVLogger::on_epoch_end(int64_t epoch, const Logs& logs) {
  if (!f_) return;
  if (!header_done_) {
    std::fprintf(f_, "epoch");
    for (const auto& [k, _] : logs) std::fprintf(f_, ",%s", k.c_str());
    std::fprintf(f_, "\n");
    header_done_ = true;
  }
  std::fprintf(f_, "%lld", static_cast<long long>(epoch));
  for (const auto& [_, v] : logs) std::fprintf(f_, ",%.10g", v);
  std::fprintf(f_, "\n");
  std::fflush(f_);
}

void CSVLogger::on_train_end(const Logs&) {
  if (f_) std::fclose(f_);
  f_ = nullptr;
}

void TerminateOnNaN::on_batch_end(int64_t batch, const Logs& logs) {
  auto v = log_value(logs, "loss");
  if (v && !std::isfinite(*v)) {
    std::fprintf(stderr, "TerminateOnNaN: batch %lld: invalid loss %g, terminating training\n",
                 static_cast<long long>(batch), *v);
    model_->stop_training = true;
  }
}

}  // namespace cairn::train
