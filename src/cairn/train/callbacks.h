// Callbacks hook into Model::fit at train, epoch and batch boundaries (Keras's names and defaults).
#pragma once
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cairn/core/tensor/tensor.h"
#include "cairn/nn/module.h"
#include "cairn/train/progress.h"

namespace cairn::train {

class Model;

// The value of `key` in logs, if present.
std::optional<double> log_value(const Logs& logs, const std::string& key);

class Callback {
 public:
  virtual ~Callback() = default;
  void set_model(Model* m) { model_ = m; }
  virtual void on_train_begin(const Logs&) {}
  virtual void on_train_end(const Logs&) {}
  virtual void on_epoch_begin(int64_t /*epoch*/, const Logs&) {}
  virtual void on_epoch_end(int64_t /*epoch*/, const Logs&) {}
  virtual void on_batch_begin(int64_t /*batch*/, const Logs&) {}
  virtual void on_batch_end(int64_t /*batch*/, const Logs&) {}

 protected:
  Model* model_ = nullptr;
};

// Tracks whether a monitored value improved ("min" for losses, "max" otherwise when mode is "auto").
class Monitor {
 public:
  Monitor(std::string monitor, std::string mode, double min_delta);
  const std::string& name() const { return monitor_; }
  bool improved(double value) const;
  void record(double value) { best_ = value; }
  double best() const { return best_; }

 private:
  std::string monitor_;
  bool minimize_;
  double min_delta_;
  double best_;
};

// Stops training when `monitor` has not improved by min_delta for `patience` epochs.
class EarlyStopping final : public Callback {
 public:
  EarlyStopping(std::string monitor = "val_loss", int64_t patience = 0, double min_delta = 0.0,
                std::string mode = "auto", bool restore_best_weights = false);
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  void on_train_end(const Logs&) override;
  int64_t stopped_epoch() const { return stopped_epoch_; }

 private:
  Monitor monitor_;
  int64_t patience_, wait_ = 0, stopped_epoch_ = -1, best_epoch_ = -1;
  bool restore_;
  nn::StateDict best_weights_;
};

// Saves the model's weights (safetensors) after every epoch, or only when `monitor` improved.
// `path` may contain "{epoch}" (1-based).
class ModelCheckpoint final : public Callback {
 public:
  ModelCheckpoint(std::string path, std::string monitor = "val_loss", bool save_best_only = false,
                  std::string mode = "auto");
  void on_epoch_end(int64_t epoch, const Logs& logs) override;

 private:
  std::string path_;
  Monitor monitor_;
  bool best_only_;
};

// Sets the learning rate at each epoch start to schedule(epoch, current_lr).
class LearningRateScheduler final : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int64_t, double)> schedule) : schedule_(std::move(schedule)) {}
  void on_epoch_begin(int64_t epoch, const Logs&) override;

 private:
  std::function<double(int64_t, double)> schedule_;
};

// Multiplies the learning rate by `factor` after `patience` epochs without improvement (Keras semantics).
class ReduceLROnPlateau final : public Callback {
 public:
  ReduceLROnPlateau(std::string monitor = "val_loss", double factor = 0.1, int64_t patience = 10,
                    std::string mode = "auto", double min_delta = 1e-4, int64_t cooldown = 0, double min_lr = 0.0);
  void on_epoch_end(int64_t epoch, const Logs& logs) override;

 private:
  Monitor monitor_;
  double factor_, min_lr_;
  int64_t patience_, cooldown_, wait_ = 0, cooldown_left_ = 0;
};

// Appends one CSV row per epoch: epoch, then every log value (header from the first epoch's keys).
class CSVLogger final : public Callback {
 public:
  explicit CSVLogger(std::string path, bool append = false) : path_(std::move(path)), append_(append) {}
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  void on_train_end(const Logs&) override;

 private:
  std::string path_;
  bool append_;
  std::FILE* f_ = nullptr;
  bool header_done_ = false;
};

// Stops training at the first NaN or infinite loss, naming the step.
class TerminateOnNaN final : public Callback {
 public:
  void on_batch_end(int64_t batch, const Logs& logs) override;
};

// User lambdas at any hook.
class LambdaCallback final : public Callback {
 public:
  std::function<void(int64_t, const Logs&)> on_epoch_begin_fn, on_epoch_end_fn, on_batch_begin_fn, on_batch_end_fn;
  std::function<void(const Logs&)> on_train_begin_fn, on_train_end_fn;
  void on_train_begin(const Logs& l) override { if (on_train_begin_fn) on_train_begin_fn(l); }
  void on_train_end(const Logs& l) override { if (on_train_end_fn) on_train_end_fn(l); }
  void on_epoch_begin(int64_t e, const Logs& l) override { if (on_epoch_begin_fn) on_epoch_begin_fn(e, l); }
  void on_epoch_end(int64_t e, const Logs& l) override { if (on_epoch_end_fn) on_epoch_end_fn(e, l); }
  void on_batch_begin(int64_t b, const Logs& l) override { if (on_batch_begin_fn) on_batch_begin_fn(b, l); }
  void on_batch_end(int64_t b, const Logs& l) override { if (on_batch_end_fn) on_batch_end_fn(b, l); }
};

}  // namespace cairn::train
