// Optimizers and schedules by name, for configuration files:
//
//   optimizer: {name: adamw, lr: 6e-4, beta1: 0.9, beta2: 0.95, weight_decay: 0.1}
//   -> make_optimizer("adamw", model.parameters(), {{"lr", 6e-4}, {"beta1", 0.9}, {"beta2", 0.95},
//                                                  {"weight_decay", 0.1}})
//
// Names are case-insensitive. Options not given keep PyTorch's defaults (SGD has no default lr, as in
// PyTorch: "lr" is required). Boolean options (nesterov, amsgrad, centered) are 0 or 1.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cairn/optim/optimizers.h"
#include "cairn/optim/schedules.h"

namespace cairn::optim {

// Options by optimizer (beta_1/beta_2 are accepted for beta1/beta2; a pair "betas" cannot be a number,
// so a config's `betas: [0.9, 0.95]` must be passed as beta1 and beta2):
//   sgd      lr, momentum, dampening, nesterov, weight_decay
//   adam     lr, beta1, beta2, eps, weight_decay, amsgrad      (adamw: same, weight_decay defaults to 0.01)
//   rmsprop  lr, alpha, eps, weight_decay, momentum, centered
//   adagrad  lr, lr_decay, weight_decay, initial_accumulator_value, eps
// Throws ValueError listing the valid names for an unknown optimizer or option, or a non-0/1 boolean,
// and whatever the optimizer's constructor throws for an invalid value.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<ParamGroup> groups,
                                          const std::map<std::string, double>& options);
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params,
                                          const std::map<std::string, double>& options);

// The optimizers make_optimizer knows: {"adagrad", "adam", "adamw", "rmsprop", "sgd"}.
std::vector<std::string> optimizer_names();

// Schedules by name; the scheduler keeps a reference to `opt`, which must outlive it.
//   step         step_size (required), gamma (0.1)
//   exponential  gamma (required)
//   cosine       total_steps (required), warmup_steps (0), min_lr (0)      -> WarmupCosineLR
//   constant     (none): the lr stays as it is                              -> LambdaLR(1)
// Throws ValueError for an unknown name or option, or a missing required option.
std::unique_ptr<LRScheduler> make_scheduler(const std::string& name, Optimizer& opt,
                                            const std::map<std::string, double>& options);

}  // namespace cairn::optim
