#include "cairn/optim/clip.h"

#include <algorithm>
#include <cmath>

#include "cairn/core/autograd/autograd.h"
#include "cairn/optim/detail.h"

namespace cairn::optim {

namespace {

// Block size of the norm's partial sums. Fixed (not derived from the thread count) so the summation
// order, and so the result, is the same on every machine.
constexpr int64_t kNormBlock = int64_t{1} << 13;

enum class NormKind { kOne, kTwo, kInf, kP };

// The gradients to clip, made contiguous in place (a grad set by hand may be a strided view).
std::vector<Tensor> gradients(const std::vector<Tensor>& params, const char* who) {
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    CAIRN_CHECK(p.defined(), ValueError, who, ": parameter ", i, " is an undefined tensor");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    CAIRN_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64, DTypeError, who, ": the grad of parameter ", i,
                " is ", dtype_name(g.dtype()), "; only float32 and float64 gradients can be clipped");
    if (!g.is_contiguous()) {
      g = g.contiguous();
      Tensor(p).set_grad(g);  // the handle shares p's TensorImpl
    }
    grads.push_back(g);
  }
  return grads;
}

// Sum of |x|^p (or max |x| for kInf) over x[0, n), in double.
template <class T>
double block_norm(const T* x, int64_t n, NormKind kind, double p) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::abs(static_cast<double>(x[i]));
    switch (kind) {
      case NormKind::kOne: acc += a; break;
      case NormKind::kTwo: acc += a * a; break;
      case NormKind::kInf: acc = (a != a || a > acc) ? a : acc; break;  // NaN propagates, as torch.max
      case NormKind::kP: acc += std::pow(a, p); break;
    }
  }
  return acc;
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  CAIRN_CHECK(max_norm >= 0, ValueError, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  CAIRN_CHECK(norm_type > 0, ValueError, "clip_grad_norm_: norm_type must be > 0 or infinity (2 for the L2 norm), got ",
              norm_type);
  const NormKind kind = std::isinf(norm_type) ? NormKind::kInf
                        : norm_type == 2.0    ? NormKind::kTwo
                        : norm_type == 1.0    ? NormKind::kOne
                                              : NormKind::kP;
  NoGradGuard no_grad;
  std::vector<Tensor> grads = gradients(params, "clip_grad_norm_");
  if (grads.empty()) return 0.0;

  std::vector<double> partial;
  for (const Tensor& g : grads) {
    const int64_t n = g.numel(), blocks = (n + kNormBlock - 1) / kNormBlock;
    const size_t first = partial.size();
    partial.resize(first + static_cast<size_t>(blocks));
    detail::dispatch(g.dtype(), [&](auto t) {
      using T = decltype(t);
      const T* x = g.data<T>();
      cairn::parallel_for(0, blocks, 4, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) {
          const int64_t lo = k * kNormBlock, hi = std::min(n, lo + kNormBlock);
          partial[first + static_cast<size_t>(k)] = block_norm(x + lo, hi - lo, kind, norm_type);
        }
      });
    });
  }
  double total = 0;
  for (double v : partial) total = kind == NormKind::kInf ? ((v != v || v > total) ? v : total) : total + v;
  if (kind == NormKind::kTwo) total = std::sqrt(total);
  else if (kind == NormKind::kP) total = std::pow(total, 1.0 / norm_type);

  CAIRN_CHECK(!error_if_nonfinite || std::isfinite(total), ValueError, "clip_grad_norm_: the total norm of order ",
              norm_type, " of the gradients is ", total,
              ", so they cannot be clipped; look for a NaN/Inf in the loss or the forward pass, or pass "
              "error_if_nonfinite=false to clip anyway");
  const double coef = max_norm / (total + 1e-6);
  // A NaN total scales every gradient to NaN, as PyTorch's clamp(coef, max=1) does: the step then
  // fails loudly instead of silently using unclipped gradients.
  if (!(coef >= 1.0)) {
    for (const Tensor& g : grads) {
      detail::dispatch(g.dtype(), [&](auto t) {
        using T = decltype(t);
        T* x = g.data<T>();
        const T c = static_cast<T>(coef);
        detail::for_chunks(g.numel(), [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) x[i] = x[i] * c;
        });
      });
    }
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  CAIRN_CHECK(clip_value >= 0, ValueError, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& g : gradients(params, "clip_grad_value_")) {
    detail::dispatch(g.dtype(), [&](auto t) {
      using T = decltype(t);
      T* x = g.data<T>();
      const T hi = static_cast<T>(clip_value), lo = -hi;
      detail::for_chunks(g.numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);  // NaN stays NaN
      });
    });
  }
}

}  // namespace cairn::optim
