// RMSprop (Hinton), with momentum and the centered variant (Graves 2013): torch.optim.RMSprop, 1.13.
#include <cmath>

#include "cairn/optim/detail.h"
#include "cairn/optim/optimizers.h"

namespace cairn::optim {

namespace {

// p, g, sq, ga, buf: (n). All but g updated in place; ga null unless centered, buf null without momentum.
// PyTorch's order of operations, each op rounding to T:
//   g = g.add(p, alpha=wd);  sq.mul_(alpha).addcmul_(g, g, value=1-alpha)
//   centered: ga.mul_(alpha).add_(g, alpha=1-alpha); avg = sq.addcmul(ga, ga, value=-1).sqrt_()
//   else avg = sq.sqrt();  avg.add_(eps)
//   momentum: buf.mul_(momentum).addcdiv_(g, avg); p.add_(buf, alpha=-lr)  else p.addcdiv_(g, avg, value=-lr)
template <class T>
void rmsprop_update(T* p, const T* g, T* sq, T* ga, T* buf, int64_t b, int64_t e, double lr, double weight_decay,
                    double alpha, double eps, double momentum) {
  const T a = static_cast<T>(alpha), one_minus_a = static_cast<T>(1 - alpha), teps = static_cast<T>(eps);
  const T wd = static_cast<T>(weight_decay), mom = static_cast<T>(momentum), neg_lr = static_cast<T>(-lr);
  for (int64_t i = b; i < e; ++i) {
    T gi = g[i];
    if (weight_decay != 0) gi = gi + wd * p[i];
    sq[i] = sq[i] * a + (one_minus_a * gi) * gi;
    T avg;
    if (ga) {
      ga[i] = ga[i] * a + one_minus_a * gi;
      avg = std::sqrt(sq[i] + (-ga[i]) * ga[i]);
    } else {
      avg = std::sqrt(sq[i]);
    }
    avg = avg + teps;
    if (buf) {
      buf[i] = buf[i] * mom + gi / avg;
      p[i] = p[i] + neg_lr * buf[i];
    } else {
      p[i] = p[i] + (neg_lr * gi) / avg;
    }
  }
}

}  // namespace

RMSprop::RMSprop(std::vector<ParamGroup> groups, RMSpropOptions opts)
    : Optimizer("RMSprop", opts.lr, opts.weight_decay), opts_(validated(opts)) {
  init_groups(std::move(groups));
}

RMSpropOptions RMSprop::validated(RMSpropOptions o) const {
  require(std::isfinite(o.eps) && o.eps >= 0, "eps", ">= 0", o.eps);
  require(std::isfinite(o.momentum) && o.momentum >= 0, "momentum", ">= 0", o.momentum);
  require(std::isfinite(o.alpha) && o.alpha >= 0, "alpha", ">= 0 (the smoothing constant, e.g. 0.99)", o.alpha);
  return o;
}

RangeUpdate RMSprop::update(const Tensor& param, const Tensor& grad, ParamState& st,
                                       const ParamGroup& group) {
  Tensor sq = detail::state_buffer(st, "square_avg", param, 0.0);
  Tensor ga = opts_.centered ? detail::state_buffer(st, "grad_avg", param, 0.0) : Tensor();
  Tensor buf = opts_.momentum > 0 ? detail::state_buffer(st, "momentum_buffer", param, 0.0) : Tensor();
  return [param, grad, sq, ga, buf, lr = *group.lr, wd = *group.weight_decay, o = opts_](int64_t b, int64_t e) {
    detail::dispatch(param.dtype(), [&](auto t) {
      using T = decltype(t);
      rmsprop_update<T>(param.data<T>(), grad.data<T>(), sq.data<T>(), ga.defined() ? ga.data<T>() : nullptr,
                        buf.defined() ? buf.data<T>() : nullptr, b, e, lr, wd, o.alpha, o.eps, o.momentum);
    });
  };
}

std::map<std::string, double> RMSprop::options() const {
  return {{"alpha", opts_.alpha},
          {"eps", opts_.eps},
          {"momentum", opts_.momentum},
          {"centered", opts_.centered ? 1.0 : 0.0}};
}

void RMSprop::set_options(const std::map<std::string, double>& v) {
  RMSpropOptions o = opts_;
  o.alpha = v.at("alpha");
  o.eps = v.at("eps");
  o.momentum = v.at("momentum");
  o.centered = detail::as_bool(v.at("centered"));
  opts_ = validated(o);
}

}  // namespace cairn::optim
