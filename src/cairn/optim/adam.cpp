// Adam (Kingma & Ba), its AMSGrad variant, and AdamW's decoupled weight decay: torch.optim.Adam and
// torch.optim.AdamW, 1.13, single-tensor path.
#include <cmath>
#include <type_traits>

#include "cairn/optim/detail.h"
#include "cairn/optim/optimizers.h"

namespace cairn::optim {

namespace {

struct AdamStep {
  double lr, weight_decay, beta1, beta2, eps;
  int64_t step;  // 1 on the parameter's first update
  bool decoupled;
};

// NaN-propagating max, as torch.maximum.
template <class T>
T nan_max(T a, T b) {
  return (a != a || a > b) ? a : b;
}

// p, g, m, v, vmax: (n). p, m, v, vmax updated in place; vmax null without amsgrad.
// The order of operations is PyTorch's (each tensor op rounds to T; addcmul is self + (value*t1)*t2,
// addcdiv is self + (value*t1)/t2):
//   p.mul_(1 - lr*wd) (AdamW) | g = g.add(p, alpha=wd) (Adam)
//   m.mul_(b1).add_(g, alpha=1-b1);  v.mul_(b2).addcmul_(g, g, value=1-b2);  torch.maximum(vmax, v, out=vmax)
//   denom = (v.sqrt() / sqrt(1-b2^t)).add_(eps);  p.addcdiv_(m, denom, value=-lr/(1-b1^t))
template <class T, bool kAmsgrad, bool kDecoupled, bool kCoupledDecay>
void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, T* __restrict vmax,
               int64_t b, int64_t e, T neg_step_size, T bc2_sqrt, T b1, T one_minus_b1, T b2, T one_minus_b2, T eps,
               T wd, T decay) {
#pragma omp simd
  for (int64_t i = b; i < e; ++i) {
    T gi = g[i];
    T pi = p[i];
    if constexpr (kDecoupled) pi = pi * decay;
    if constexpr (kCoupledDecay) gi = gi + wd * pi;
    const T mi = m[i] * b1 + one_minus_b1 * gi;
    const T vi = v[i] * b2 + (one_minus_b2 * gi) * gi;
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if constexpr (kAmsgrad) second = vmax[i] = nan_max(vmax[i], vi);
    const T denom = std::sqrt(second) / bc2_sqrt + eps;
    p[i] = pi + (neg_step_size * mi) / denom;
  }
}

template <class T>
void adam_update(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamStep& s) {
  const double t = static_cast<double>(s.step);
  const double bias_correction1 = 1 - std::pow(s.beta1, t);
  const double bias_correction2 = 1 - std::pow(s.beta2, t);
  const T neg_step_size = static_cast<T>(-(s.lr / bias_correction1));
  const T bc2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T b1 = static_cast<T>(s.beta1), one_minus_b1 = static_cast<T>(1 - s.beta1);
  const T b2 = static_cast<T>(s.beta2), one_minus_b2 = static_cast<T>(1 - s.beta2);
  const T eps = static_cast<T>(s.eps), wd = static_cast<T>(s.weight_decay);
  const T decay = static_cast<T>(1 - s.lr * s.weight_decay);
  // The branches are template arguments so the loop body has none and vectorizes.
  auto run = [&](auto amsgrad, auto decoupled, auto coupled) {
    detail::for_chunks(n, [&](int64_t b, int64_t e) {
      adam_loop<T, decltype(amsgrad)::value, decltype(decoupled)::value, decltype(coupled)::value>(
          p, g, m, v, vmax, b, e, neg_step_size, bc2_sqrt, b1, one_minus_b1, b2, one_minus_b2, eps, wd, decay);
    });
  };
  using Yes = std::true_type;
  using No = std::false_type;
  const bool coupled = !s.decoupled && s.weight_decay != 0;
  if (vmax) {
    if (s.decoupled) run(Yes{}, Yes{}, No{});
    else if (coupled) run(Yes{}, No{}, Yes{});
    else run(Yes{}, No{}, No{});
  } else {
    if (s.decoupled) run(No{}, Yes{}, No{});
    else if (coupled) run(No{}, No{}, Yes{});
    else run(No{}, No{}, No{});
  }
}

}  // namespace

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions opts) : Adam("Adam", std::move(groups), opts, false) {}

Adam::Adam(std::string name, std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled)
    : Optimizer(std::move(name), opts.lr, opts.weight_decay), opts_(validated(opts)), decoupled_(decoupled) {
  init_groups(std::move(groups));
}

namespace {
AdamOptions to_adam(const AdamWOptions& o) {
  return {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay,
          .amsgrad = o.amsgrad};
}
}  // namespace

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions opts) : Adam("AdamW", std::move(groups), to_adam(opts), true) {}

AdamOptions Adam::validated(AdamOptions o) const {
  require(std::isfinite(o.eps) && o.eps >= 0, "eps", ">= 0 (PyTorch: 'Invalid epsilon value')", o.eps);
  require(o.beta1 >= 0 && o.beta1 < 1, "beta1", "in [0, 1) (PyTorch: 'Invalid beta parameter at index 0')",
          o.beta1);
  require(o.beta2 >= 0 && o.beta2 < 1, "beta2", "in [0, 1) (PyTorch: 'Invalid beta parameter at index 1')",
          o.beta2);
  return o;
}

void Adam::update(const Tensor& param, const Tensor& grad, ParamState& st, const ParamGroup& group) {
  Tensor& m = detail::state_buffer(st, "exp_avg", param, 0.0);
  Tensor& v = detail::state_buffer(st, "exp_avg_sq", param, 0.0);
  Tensor vmax = opts_.amsgrad ? detail::state_buffer(st, "max_exp_avg_sq", param, 0.0) : Tensor();
  const AdamStep s{*group.lr, *group.weight_decay, opts_.beta1, opts_.beta2, opts_.eps, st.step, decoupled_};
  detail::dispatch(param.dtype(), [&](auto t) {
    using T = decltype(t);
    adam_update<T>(param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(),
                   opts_.amsgrad ? vmax.data<T>() : nullptr, param.numel(), s);
  });
}

std::map<std::string, double> Adam::options() const {
  return {{"beta1", opts_.beta1}, {"beta2", opts_.beta2}, {"eps", opts_.eps}, {"amsgrad", opts_.amsgrad ? 1.0 : 0.0}};
}

void Adam::set_options(const std::map<std::string, double>& v) {
  AdamOptions o = opts_;
  o.beta1 = v.at("beta1");
  o.beta2 = v.at("beta2");
  o.eps = v.at("eps");
  o.amsgrad = detail::as_bool(v.at("amsgrad"));
  opts_ = validated(o);
}

}  // namespace cairn::optim
