// The optimization algorithms, each exactly PyTorch 1.13's (torch.optim, single-tensor path): the same
// state, the same update formula with the same order of operations, in the parameter's dtype.
// Every step is one fused pass per parameter over raw float/double data (no temporary tensors),
// split over the OpenMP pool with cairn::parallel_for when the parameter is large.
//
// Notation, per element, g = grad + weight_decay * param when weight_decay != 0 (coupled decay):
//   SGD      buf = g (first step) | momentum*buf + (1-dampening)*g;  d = nesterov ? g + momentum*buf : buf
//            (d = g without momentum);  param -= lr * d
//   Adam     m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g;  vmax = max(vmax, v) (amsgrad)
//            param -= lr/(1-beta1^t) * m / (sqrt(v or vmax)/sqrt(1-beta2^t) + eps)
//   AdamW    param *= 1 - lr*weight_decay (decoupled, the grad is not decayed), then Adam's update
//   RMSprop  s = alpha*s + (1-alpha)*g*g;  centered: a = alpha*a + (1-alpha)*g, den = sqrt(s - a*a) + eps,
//            else den = sqrt(s) + eps;  momentum: buf = momentum*buf + g/den, param -= lr*buf;
//            else param -= lr * g/den
//   Adagrad  clr = lr / (1 + (t-1)*lr_decay);  sum += g*g;  param -= clr * g/(sqrt(sum) + eps)
// where t is the parameter's step count (1 on its first update).
//
// Constructors take either a flat parameter list or parameter groups (optimizer.h). They throw
// ValueError naming the optimizer, the option and the rule it broke (negative lr, betas outside
// [0, 1), nesterov without momentum, ...), as PyTorch does.
#pragma once
#include <limits>
#include <vector>

#include "cairn/optim/optimizer.h"

namespace cairn::optim {

struct SGDOptions {
  double lr = std::numeric_limits<double>::quiet_NaN();  // required, as in PyTorch
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // requires momentum > 0 and dampening == 0
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;    // in [0, 1)
  double beta2 = 0.999;  // in [0, 1)
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW: 1e-2 (see AdamW below)
  bool amsgrad = false;
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
};

// State: momentum_buffer (only with momentum).
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions opts);
  SGD(std::vector<Tensor> params, SGDOptions opts) : SGD(one_group(std::move(params)), opts) {}

 protected:
  RangeUpdate update(const Tensor& param, const Tensor& grad, ParamState& st, const ParamGroup& group) override;
  std::map<std::string, double> options() const override;
  void set_options(const std::map<std::string, double>& values) override;
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }

 private:
  SGDOptions validated(SGDOptions o) const;
  SGDOptions opts_;
};

// State: exp_avg, exp_avg_sq, max_exp_avg_sq (only with amsgrad).
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions opts = {});
  Adam(std::vector<Tensor> params, AdamOptions opts = {})
      : Adam(one_group(std::move(params)), opts) {}

 protected:
  // decoupled: AdamW's weight decay.
  Adam(std::string name, std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled);
  RangeUpdate update(const Tensor& param, const Tensor& grad, ParamState& st, const ParamGroup& group) override;
  std::map<std::string, double> options() const override;
  void set_options(const std::map<std::string, double>& values) override;
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }

 private:
  AdamOptions validated(AdamOptions o) const;
  AdamOptions opts_;
  bool decoupled_;
};

// Adam with decoupled weight decay (Loshchilov & Hutter); PyTorch's default weight_decay is 1e-2.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};
class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions opts = {});
  AdamW(std::vector<Tensor> params, AdamWOptions opts = {})
      : AdamW(one_group(std::move(params)), opts) {}
};

// State: square_avg, momentum_buffer (with momentum > 0), grad_avg (centered).
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<ParamGroup> groups, RMSpropOptions opts = {});
  RMSprop(std::vector<Tensor> params, RMSpropOptions opts = {})
      : RMSprop(one_group(std::move(params)), opts) {}

 protected:
  RangeUpdate update(const Tensor& param, const Tensor& grad, ParamState& st, const ParamGroup& group) override;
  std::map<std::string, double> options() const override;
  void set_options(const std::map<std::string, double>& values) override;
  std::vector<std::string> buffer_names() const override { return {"square_avg", "momentum_buffer", "grad_avg"}; }

 private:
  RMSpropOptions validated(RMSpropOptions o) const;
  RMSpropOptions opts_;
};

// State: sum (starts at initial_accumulator_value).
class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<ParamGroup> groups, AdagradOptions opts = {});
  Adagrad(std::vector<Tensor> params, AdagradOptions opts = {})
      : Adagrad(one_group(std::move(params)), opts) {}

 protected:
  RangeUpdate update(const Tensor& param, const Tensor& grad, ParamState& st, const ParamGroup& group) override;
  std::map<std::string, double> options() const override;
  void set_options(const std::map<std::string, double>& values) override;
  std::vector<std::string> buffer_names() const override { return {"sum"}; }

 private:
  AdagradOptions validated(AdagradOptions o) const;
  AdagradOptions opts_;
};

}  // namespace cairn::optim
