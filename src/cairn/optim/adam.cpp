// Adam (Kingma & Ba), its AMSGrad variant, and AdamW's decoupled weight decay: torch.optim.Adam and
// torch.optim.AdamW, 1.13, single-tensor path.
#include <immintrin.h>

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

#if defined(__AVX512F__)
// The float loop with 16 lanes per step and the two divisions done as reciprocal estimates refined by one
// Newton step (relative error ~1e-7, below float's half-ulp of the update in practice): sqrt and division are
// what bound the loop otherwise (~23 cycles per 16 parameters on Zen 4).
template <bool kAmsgrad, bool kDecoupled, bool kCoupledDecay>
void adam_loop_avx512(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                      float* __restrict vmax, int64_t b, int64_t e, float neg_step_size, float bc2_sqrt, float b1,
                      float one_minus_b1, float b2, float one_minus_b2, float eps, float wd, float decay) {
  const __m512 vb1 = _mm512_set1_ps(b1), vomb1 = _mm512_set1_ps(one_minus_b1), vb2 = _mm512_set1_ps(b2),
               vomb2 = _mm512_set1_ps(one_minus_b2), veps = _mm512_set1_ps(eps), vwd = _mm512_set1_ps(wd),
               vdecay = _mm512_set1_ps(decay), vstep = _mm512_set1_ps(neg_step_size),
               vinv_bc2 = _mm512_set1_ps(1.0f / bc2_sqrt), two = _mm512_set1_ps(2.0f);
  // Every element takes the same instructions (the last partial vector is masked), so the result does not
  // depend on where the threads' chunks start.
  for (int64_t i = b; i < e; i += 16) {
    const __mmask16 k = e - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (e - i)) - 1);
    __m512 gi = _mm512_maskz_loadu_ps(k, g + i), pi = _mm512_maskz_loadu_ps(k, p + i);
    if constexpr (kDecoupled) pi = _mm512_mul_ps(pi, vdecay);
    if constexpr (kCoupledDecay) gi = _mm512_fmadd_ps(vwd, pi, gi);
    const __m512 mi = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, m + i), vb1, _mm512_mul_ps(vomb1, gi));
    const __m512 vi =
        _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, v + i), vb2, _mm512_mul_ps(_mm512_mul_ps(vomb2, gi), gi));
    _mm512_mask_storeu_ps(m + i, k, mi);
    _mm512_mask_storeu_ps(v + i, k, vi);
    __m512 second = vi;
    if constexpr (kAmsgrad) {
      const __m512 old = _mm512_maskz_loadu_ps(k, vmax + i);
      // nan_max(old, vi): old when old is NaN or old > vi, else vi.
      const __mmask16 keep = _mm512_cmp_ps_mask(old, old, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(old, vi, _CMP_GT_OQ);
      second = _mm512_mask_blend_ps(keep, vi, old);
      _mm512_mask_storeu_ps(vmax + i, k, second);
    }
    const __m512 denom = _mm512_fmadd_ps(_mm512_maskz_sqrt_ps(0xFFFF, second), vinv_bc2, veps);
    __m512 r = _mm512_maskz_rcp14_ps(0xFFFF, denom);
    r = _mm512_mul_ps(r, _mm512_fnmadd_ps(denom, r, two));
    _mm512_mask_storeu_ps(p + i, k, _mm512_fmadd_ps(_mm512_mul_ps(vstep, mi), r, pi));
  }
}
#endif

// The update of elements [b, e) of p, g, m, v, vmax (vmax null without amsgrad), as PyTorch's single-tensor Adam.
template <class T>
void adam_range(T* p, const T* g, T* m, T* v, T* vmax, int64_t b, int64_t e, const AdamStep& s) {
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
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      adam_loop_avx512<decltype(amsgrad)::value, decltype(decoupled)::value, decltype(coupled)::value>(
          p, g, m, v, vmax, b, e, neg_step_size, bc2_sqrt, b1, one_minus_b1, b2, one_minus_b2, eps, wd, decay);
      return;
    }
#endif
    adam_loop<T, decltype(amsgrad)::value, decltype(decoupled)::value, decltype(coupled)::value>(
        p, g, m, v, vmax, b, e, neg_step_size, bc2_sqrt, b1, one_minus_b1, b2, one_minus_b2, eps, wd, decay);
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

RangeUpdate Adam::update(const Tensor& param, const Tensor& grad, ParamState& st,
                                    const ParamGroup& group) {
  Tensor m = detail::state_buffer(st, "exp_avg", param, 0.0);
  Tensor v = detail::state_buffer(st, "exp_avg_sq", param, 0.0);
  Tensor vmax = opts_.amsgrad ? detail::state_buffer(st, "max_exp_avg_sq", param, 0.0) : Tensor();
  const AdamStep s{*group.lr, *group.weight_decay, opts_.beta1, opts_.beta2, opts_.eps, st.step, decoupled_};
  return [param, grad, m, v, vmax, s](int64_t b, int64_t e) {
    detail::dispatch(param.dtype(), [&](auto t) {
      using T = decltype(t);
      adam_range<T>(param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(),
                    vmax.defined() ? vmax.data<T>() : nullptr, b, e, s);
    });
  };
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
