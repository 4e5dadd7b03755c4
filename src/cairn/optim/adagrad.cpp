// Adagrad (Duchi et al.) with learning-rate decay: torch.optim.Adagrad, 1.13 (dense gradients).
#include <cmath>

#include "cairn/optim/detail.h"
#include "cairn/optim/optimizers.h"

namespace cairn::optim {

namespace {

// p, g, sum: (n); p and sum updated in place. PyTorch's order of operations, each op rounding to T:
//   g = g.add(p, alpha=wd);  sum.addcmul_(g, g, value=1);  std = sum.sqrt().add_(eps)
//   p.addcdiv_(g, std, value=-clr),  clr = lr / (1 + (t-1)*lr_decay)
template <class T>
void adagrad_update(T* p, const T* g, T* sum, int64_t b, int64_t e, double clr, double weight_decay, double eps) {
  const T neg_clr = static_cast<T>(-clr), wd = static_cast<T>(weight_decay), teps = static_cast<T>(eps);
  for (int64_t i = b; i < e; ++i) {
    T gi = g[i];
    if (weight_decay != 0) gi = gi + wd * p[i];
    sum[i] = sum[i] + gi * gi;
    const T std_dev = std::sqrt(sum[i]) + teps;
    p[i] = p[i] + (neg_clr * gi) / std_dev;
  }
}

}  // namespace

Adagrad::Adagrad(std::vector<ParamGroup> groups, AdagradOptions opts)
    : Optimizer("Adagrad", opts.lr, opts.weight_decay), opts_(validated(opts)) {
  init_groups(std::move(groups));
}

AdagradOptions Adagrad::validated(AdagradOptions o) const {
  require(std::isfinite(o.lr_decay) && o.lr_decay >= 0, "lr_decay", ">= 0", o.lr_decay);
  require(std::isfinite(o.initial_accumulator_value) && o.initial_accumulator_value >= 0,
          "initial_accumulator_value", ">= 0", o.initial_accumulator_value);
  require(std::isfinite(o.eps) && o.eps >= 0, "eps", ">= 0", o.eps);
  return o;
}

RangeUpdate Adagrad::update(const Tensor& param, const Tensor& grad, ParamState& st,
                                       const ParamGroup& group) {
  Tensor sum = detail::state_buffer(st, "sum", param, opts_.initial_accumulator_value);
  const double clr = *group.lr / (1 + static_cast<double>(st.step - 1) * opts_.lr_decay);
  return [param, grad, sum, clr, wd = *group.weight_decay, eps = opts_.eps](int64_t b, int64_t e) {
    detail::dispatch(param.dtype(), [&](auto t) {
      using T = decltype(t);
      adagrad_update<T>(param.data<T>(), grad.data<T>(), sum.data<T>(), b, e, clr, wd, eps);
    });
  };
}

std::map<std::string, double> Adagrad::options() const {
  return {{"lr_decay", opts_.lr_decay},
          {"initial_accumulator_value", opts_.initial_accumulator_value},
          {"eps", opts_.eps}};
}

void Adagrad::set_options(const std::map<std::string, double>& v) {
  AdagradOptions o = opts_;
  o.lr_decay = v.at("lr_decay");
  o.initial_accumulator_value = v.at("initial_accumulator_value");
  o.eps = v.at("eps");
  opts_ = validated(o);
}

}  // namespace cairn::optim
