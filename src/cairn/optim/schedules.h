// Learning-rate schedules, as PyTorch 1.13's (closed forms). Each group follows the schedule from its
// own base lr (its lr when the scheduler is built), as PyTorch's initial_lr: a head built with 10x the
// lr keeps 10x through step and exponential decay, and cosine takes every group down to the same min_lr.
//
//   cairn::optim::AdamW opt(params, {.lr = 6e-4});
//   cairn::optim::WarmupCosineLR sched(opt, /*warmup_steps=*/2000, /*total_steps=*/600000, /*min_lr=*/6e-5);
//   for (int64_t it = 0; it < 600000; ++it) {   // opt.lr() == sched.lr_at(it) during iteration it
//     ...; opt.step(); sched.step();
//   }
//
// As in PyTorch, constructing a scheduler applies step 0 (last_epoch() == 0, lr = lr_at(0)), and each
// step() advances last_epoch by one and applies lr_at(last_epoch). Whether a step is an epoch or an
// iteration is up to the caller. Schedulers set group lrs with Optimizer::set_group_lr.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "cairn/core/tensor/tensor.h"
#include "cairn/optim/optimizer.h"

namespace cairn::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one step and sets every group's lr to lr_for(last_epoch(), its base lr).
  // Throws ValueError if the schedule gives a negative or non-finite lr.
  void step();
  // The lr this schedule gives at step `epoch` (>= 0) to a group whose base lr is base_lr.
  virtual double lr_for(int64_t epoch, double base_lr) const = 0;
  // The same for group 0, without changing anything.
  double lr_at(int64_t epoch) const { return lr_for(epoch, base_lrs_.at(0)); }

  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // Group 0's lr as this scheduler last set it.
  double last_lr() const { return lr_at(last_epoch_); }
  const std::string& name() const { return name_; }

  // last_epoch (int64 []), base_lr.<g> and option.<name> (float64 []).
  std::map<std::string, Tensor> state_dict() const;
  // Restores a state_dict() of the same kind of scheduler over as many groups and applies its lrs to
  // the optimizer. Throws ValueError naming a missing, unknown or invalid key (nothing changes then).
  void load_state_dict(const std::map<std::string, Tensor>& dict);

 protected:
  LRScheduler(Optimizer& opt, std::string name);
  // Subclass constructors call this last: applies step 0.
  void start();
  virtual std::map<std::string, double> options() const { return {}; }
  // Validates and sets the options (all keys of options() are present); throws ValueError.
  virtual void set_options(const std::map<std::string, double>&) {}

  Optimizer& opt_;
  std::string name_;

 private:
  void apply();

  std::vector<double> base_lrs_;  // one per parameter group
  int64_t last_epoch_ = -1;
};

// lr = base_lr * gamma^floor(epoch / step_size). Requires step_size >= 1, gamma > 0 (ValueError).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
  double lr_for(int64_t epoch, double base_lr) const override;

 protected:
  std::map<std::string, double> options() const override;
  void set_options(const std::map<std::string, double>& v) override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr = base_lr * gamma^epoch. Requires gamma > 0.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma);
  double lr_for(int64_t epoch, double base_lr) const override;

 protected:
  std::map<std::string, double> options() const override;
  void set_options(const std::map<std::string, double>& v) override;

 private:
  double gamma_;
};

// nanoGPT's schedule: linear warmup from 0, then a cosine from base_lr down to min_lr at total_steps,
// then min_lr:
//   epoch < warmup:   base_lr * epoch / warmup
//   epoch > total:    min_lr
//   otherwise:        min_lr + 0.5 * (1 + cos(pi * (epoch - warmup) / (total - warmup))) * (base_lr - min_lr)
// With warmup_steps = 0 this is PyTorch's CosineAnnealingLR(T_max = total_steps, eta_min = min_lr) up to
// T_max (PyTorch's then climbs back up; this one stays at min_lr). Every group ends at min_lr.
// Requires 0 <= warmup_steps < total_steps and min_lr >= 0 (ValueError).
class WarmupCosineLR : public LRScheduler {
 public:
  WarmupCosineLR(Optimizer& opt, int64_t warmup_steps, int64_t total_steps, double min_lr = 0.0);
  double lr_for(int64_t epoch, double base_lr) const override;

 protected:
  std::map<std::string, double> options() const override;
  void set_options(const std::map<std::string, double>& v) override;

 private:
  int64_t warmup_;
  int64_t total_;
  double min_lr_;
};

// lr = base_lr * factor(epoch). The function is not part of the state dict: build the scheduler with the
// same function before load_state_dict.
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& opt, std::function<double(int64_t)> factor);
  double lr_for(int64_t epoch, double base_lr) const override;

 private:
  std::function<double(int64_t)> factor_;
};

struct PlateauOptions {
  std::string mode = "min";            // "min": lower metric is better (a loss); "max": higher (accuracy)
  double factor = 0.1;                 // new lr = lr * factor; in [0, 1)
  int64_t patience = 10;               // bad steps tolerated before reducing
  double threshold = 1e-4;             // what counts as an improvement (see threshold_mode)
  std::string threshold_mode = "rel";  // "rel": better than best*(1 -/+ threshold); "abs": best -/+ threshold
  int64_t cooldown = 0;                // steps after a reduction during which bad steps are not counted
  double min_lr = 0.0;                 // lower bound on every group's lr
  double eps = 1e-8;                   // reductions smaller than this are skipped
};

// Reduces every group's lr by `factor` when the metric has not improved for more than `patience`
// steps, exactly as torch.optim.lr_scheduler.ReduceLROnPlateau (1.13). Groups are reduced one by one
// (each clamped to min_lr), so lr() follows group 0. A NaN metric counts as a step without improvement.
// Throws ValueError for an unknown mode / threshold_mode or factor outside [0, 1).
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& opt, PlateauOptions opts = {});
  // Records one metric (e.g. the validation loss of an epoch). Returns true if it reduced the lr.
  bool step(double metric);

  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  int64_t last_epoch() const { return last_epoch_; }

  // last_epoch, num_bad_epochs, cooldown_counter (int64 []), best and option.<name> (float64 []; mode
  // and threshold_mode as option.mode_max / option.threshold_abs 0/1).
  std::map<std::string, Tensor> state_dict() const;
  // Restores a state_dict() (the optimizer's lrs come from the optimizer's own state dict).
  void load_state_dict(const std::map<std::string, Tensor>& dict);

 private:
  bool is_better(double a, double best) const;
  static PlateauOptions validated(PlateauOptions o);

  Optimizer& opt_;
  PlateauOptions opts_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
};

}  // namespace cairn::optim
