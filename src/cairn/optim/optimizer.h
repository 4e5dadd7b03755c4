// The optimizer base: parameter groups, per-parameter state, zero_grad/step and a state dict that a
// checkpoint can save and restore exactly. The algorithms (optimizers.h) follow PyTorch 1.13's
// single-tensor update formulas operation by operation, so a Cairn run matches a PyTorch run.
//
//   std::vector<cairn::optim::ParamGroup> groups = {
//       {.params = backbone.parameters()},                      // the optimizer's lr and weight decay
//       {.params = head.parameters(), .lr = 1e-2},              // fine-tuning head: its own lr
//       {.params = norms_and_biases, .weight_decay = 0.0}};     // no decay on these
//   cairn::optim::AdamW opt(groups, {.lr = 1e-3});
//   for (...) {
//     opt.zero_grad();
//     loss.backward();
//     cairn::optim::clip_grad_norm_(params, 1.0);
//     opt.step();
//   }
//
// Learning rates: the optimizer's lr (lr()) is the one its options name; each group keeps
// lr_scale = group lr / optimizer lr, and set_lr(x) sets every group to x * lr_scale, so a head with
// 10x the lr keeps 10x when the training loop changes the lr by hand. Schedulers (schedules.h) set
// each group from its own base lr, as PyTorch's do.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cairn/core/tensor/tensor.h"

namespace cairn::optim {

// A set of parameters sharing a learning rate and a weight decay.
struct ParamGroup {
  std::vector<Tensor> params;
  std::optional<double> lr;            // unset: the optimizer's lr
  std::optional<double> weight_decay;  // unset: the optimizer's weight_decay
  // Set by the optimizer: lr / the optimizer's lr (1 when the optimizer's lr is 0). set_lr keeps it.
  double lr_scale = 1.0;
};

// All of `params` in one group with the optimizer's lr and weight decay.
inline std::vector<ParamGroup> one_group(std::vector<Tensor> params) {
  std::vector<ParamGroup> groups(1);
  groups[0].params = std::move(params);
  return groups;
}

// State the optimizer keeps for one parameter: how many updates it has had and its named buffers
// (same shape and dtype as the parameter, e.g. Adam's exp_avg and exp_avg_sq).
struct ParamState {
  int64_t step = 0;
  std::map<std::string, Tensor> buffers;
};

// One parameter's update over elements [begin, end) (see Optimizer::update).
using RangeUpdate = std::function<void(int64_t begin, int64_t end)>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // "SGD", "Adam", "AdamW", "RMSprop", "Adagrad": used in error messages.
  const std::string& name() const { return name_; }

  // Sets every parameter's gradient to undefined (PyTorch's set_to_none=True): the next backward
  // assigns fresh gradients instead of accumulating, and step() skips parameters that get none.
  void zero_grad();

  // One update of every parameter whose grad is defined, in place, under NoGradGuard. Parameters
  // with an undefined grad are skipped (their state and step count stay as they were).
  // Throws ShapeError / DTypeError if a grad's shape or dtype differs from its parameter's.
  void step();

  // The optimizer's learning rate: group 0's lr / group 0's lr_scale.
  double lr() const;
  // Sets every group's lr to lr * its lr_scale. Throws ValueError if lr is negative or not finite.
  void set_lr(double lr);
  // Sets one group's lr (its lr_scale is left as is). Throws IndexError / ValueError.
  void set_group_lr(size_t group, double lr);

  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // Appends a group (PyTorch's add_param_group): unset lr / weight_decay take the optimizer's.
  // Throws ValueError if a parameter is already in a group, is not a float32/float64 contiguous
  // leaf, or a hyper-parameter is out of range.
  void add_param_group(ParamGroup group);
  // Number of parameters over all groups; parameter i is numbered in group order, as in PyTorch.
  int64_t num_params() const { return static_cast<int64_t>(state_.size()); }
  // State of parameter i (0 <= i < num_params()).
  const ParamState& state(int64_t i) const;

  // Everything a resumed run needs to continue bit for bit, as tensors (copies, not views):
  //   state.<i>.step         int64 []   updates parameter i has had (only parameters with state)
  //   state.<i>.<buffer>     the buffer, same shape and dtype as parameter i
  //   group.<g>.lr / .weight_decay / .lr_scale   float64 []
  //   group.<g>.num_params   int64 []
  //   option.<name>          float64 []  the algorithm's hyper-parameters (booleans as 0/1)
  std::map<std::string, Tensor> state_dict() const;
  // Restores a state_dict() of an optimizer of the same kind over parameters of the same shapes,
  // group by group. Hyper-parameters are restored too (as PyTorch does). The tensors are copied.
  // Throws ValueError naming the key and what is wrong (missing or unknown key, wrong group or
  // parameter count, wrong shape); the optimizer is unchanged when it throws.
  void load_state_dict(const std::map<std::string, Tensor>& dict);

 protected:
  Optimizer(std::string name, double lr, double weight_decay);
  // Subclasses call this at the end of their constructor (after their options are validated).
  void init_groups(std::vector<ParamGroup> groups);

  // One fused update of `param` (contiguous) by `grad` (contiguous, same shape and dtype), as a function of a
  // range of elements: prepared on the calling thread (state created, scalars fixed; st.step has already been
  // incremented), then called from several threads on disjoint ranges covering [0, numel), each element's
  // result independent of the ranges. step() runs every parameter's in one parallel region, each thread its
  // share of each parameter, instead of one region per parameter. The function holds what it reads.
  virtual RangeUpdate update(const Tensor& param, const Tensor& grad, ParamState& st, const ParamGroup& group) = 0;
  // The algorithm's hyper-parameters by name (booleans as 0/1), for state_dict.
  virtual std::map<std::string, double> options() const = 0;
  // Validates and sets them (all keys of options() are present); throws ValueError.
  virtual void set_options(const std::map<std::string, double>& values) = 0;
  // Names of the per-parameter buffers this algorithm may keep.
  virtual std::vector<std::string> buffer_names() const = 0;

  // Throws ValueError "<name>: <what> must be <rule>, got <value>" unless ok.
  void require(bool ok, const char* what, const char* rule, double value) const;

 private:
  void check_group_hyper(const ParamGroup& g) const;

  std::string name_;
  double default_lr_;
  double default_weight_decay_;
  std::vector<ParamGroup> groups_;
  std::vector<ParamState> state_;  // one per parameter, in group order
};

}  // namespace cairn::optim
