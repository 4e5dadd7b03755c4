// softmax, log_softmax and cross_entropy, each forward with its backward right below it. All three are
// fused kernels (kernels/cpu/softmax_cpu.cpp): one kernel forward, one kernel backward, from saved outputs.
#include <cmath>

#include "cairn/core/ops/index_utils.h"

namespace cairn {
using autograd::Grads;

namespace {

// x's dims around `dim` as (A, R, C), R = the normalised dim.
struct ARC {
  int64_t A = 1, R = 1, C = 1;
};
ARC split_at(const Shape& s, int64_t d) {
  ARC p;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    if (i < d)
      p.A *= s[i];
    else if (i == d)
      p.R = s[i];
    else
      p.C *= s[i];
  }
  return p;
}

Tensor softmax_like(const char* name, const char* bw, const Tensor& x, int64_t dim) {
  detail::check_defined(name, x);
  detail::check_floating(name, x);
  // A 0-d tensor is one row of one element, as in PyTorch.
  const int64_t d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), name);
  const ARC p = split_at(x.shape(), d);
  Tensor xc = contiguous(x.detach());
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  kernels::table<kernels::SoftmaxKernel>(name).get(x.device(), x.dtype())(xc, y, p.A, p.R, p.C);
  if (autograd::needs_grad({x}))
    autograd::record(name, y, {x}, [bw, p, y = y.detach()](const Tensor& g, Grads& gi) {
      Tensor gc = contiguous(g);
      Tensor gx = Tensor::empty(y.shape(), y.dtype());
      kernels::table<kernels::SoftmaxBackwardKernel>(bw).get(y.device(), y.dtype())(gc, y, gx, p.A, p.R, p.C);
      gi[0] = gx;
    });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_like("softmax", "softmax_bw", x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_like("log_softmax", "log_softmax_bw", x, dim); }

namespace {

// Checks every target (contiguous int64) and returns the mean reduction's denominator: the summed weight
// (contiguous f32/f64 or undefined) of the targets that are not ignore_index (their count without weights).
double check_targets(const Tensor& target, const Tensor& weight, int64_t C, int64_t ignore_index,
                     const Shape& logits_shape) {
  const int64_t* t = static_cast<const int64_t*>(target.raw_data());
  const int64_t n = target.numel();
  double total = 0;
  const float* wf = weight.defined() && weight.dtype() == DType::f32 ? weight.data<float>() : nullptr;
  const double* wd = weight.defined() && weight.dtype() == DType::f64 ? weight.data<double>() : nullptr;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = t[i];
    if (v == ignore_index) continue;
    CAIRN_CHECK(v >= 0 && v < C, IndexError, "cross_entropy: target ", v, " at position ",
                detail::position_str(i, target.shape()), " is out of range for ", C, " classes (logits of shape ",
                shape_str(logits_shape), "); targets must lie in [0, ", C - 1, "] or equal ignore_index (",
                ignore_index, ")");
    total += wf ? static_cast<double>(wf[v]) : (wd ? wd[v] : 1.0);
  }
  return total;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& opt) {
  const char* op = "cross_entropy";
  detail::check_defined(op, logits, "logits");
  detail::check_defined(op, target, "target");
  detail::check_floating(op, logits, "logits");
  CAIRN_CHECK(target.dtype() == DType::i64, DTypeError, "cross_entropy: target must hold int64 class indices, got ",
              dtype_name(target.dtype()), " ", shape_str(target.shape()), " (logits ", shape_str(logits.shape()),
              "); convert it with .to(cairn::DType::i64) (class-probability targets are not supported)");
  const std::string& red = opt.reduction;
  CAIRN_CHECK(red == "mean" || red == "sum" || red == "none", ValueError,
              "cross_entropy: reduction must be \"mean\", \"sum\" or \"none\", got \"", red, "\"");
  CAIRN_CHECK(opt.label_smoothing >= 0.0 && opt.label_smoothing <= 1.0, ValueError,
              "cross_entropy: label_smoothing must be in [0, 1], got ", opt.label_smoothing);

  // logits (C) with a 0-d target is one unbatched sample; otherwise (N, C, d1, ...) with target (N, d1, ...).
  CAIRN_CHECK(logits.dim() >= 1, ShapeError, "cross_entropy: logits must be (C), (N, C) or (N, C, d1, ...), got ",
              shape_str(logits.shape()));
  const bool unbatched = logits.dim() == 1;
  const int64_t N = unbatched ? 1 : logits.shape()[0];
  const int64_t C = unbatched ? logits.shape()[0] : logits.shape()[1];
  Shape expected;
  if (!unbatched) {
    expected.push_back(N);
    expected.insert(expected.end(), logits.shape().begin() + 2, logits.shape().end());
  }
  CAIRN_CHECK(target.shape() == expected, ShapeError, "cross_entropy: logits of shape ", shape_str(logits.shape()),
              " need targets of shape ", shape_str(expected), ", got ", shape_str(target.shape()));
  CAIRN_CHECK(C > 0, ShapeError, "cross_entropy: logits of shape ", shape_str(logits.shape()), " have no classes");
  const Tensor& weight = opt.weight;
  if (weight.defined()) {
    CAIRN_CHECK(weight.dim() == 1 && weight.shape()[0] == C, ShapeError, "cross_entropy: weight of shape ",
                shape_str(weight.shape()), " does not fit logits of shape ", shape_str(logits.shape()),
                " (expected one weight per class: [", C, "])");
    detail::check_same_dtype(op, logits, weight);
  }
  Tensor t = contiguous(target.detach());
  Tensor w = weight.defined() ? contiguous(weight.detach()) : Tensor();
  const double denom = check_targets(t, w, C, opt.ignore_index, logits.shape());

  kernels::CrossEntropyArgs args;
  args.N = N;
  args.C = C;
  args.S = numel_of(expected) / std::max<int64_t>(N, 1);
  args.ignore_index = opt.ignore_index;
  args.label_smoothing = opt.label_smoothing;
  Tensor x = contiguous(logits.detach());
  const bool need_grad = autograd::needs_grad({logits});
  Tensor probs = need_grad ? Tensor::empty(logits.shape(), logits.dtype()) : Tensor();
  Tensor loss = Tensor::empty(target.shape(), logits.dtype());
  kernels::table<kernels::CrossEntropyKernel>(op).get(x.device(), x.dtype())(x, t, w, probs, loss, args);

  Tensor y;
  if (red == "none") {
    y = loss;
  } else {
    y = sum(loss);
    // As PyTorch: the weighted mean, NaN (0 / 0) when every target is ignored.
    if (red == "mean") y = div(y, scalar_tensor(denom, y.dtype()));
  }
  if (need_grad) {
    const double scale = red == "mean" ? 1.0 / denom : 1.0;
    autograd::record(op, y, {logits}, [probs, t, w, args, scale](const Tensor& g, Grads& gi) {
      Tensor gc = contiguous(g);
      Tensor gx = Tensor::empty(probs.shape(), probs.dtype());
      kernels::table<kernels::CrossEntropyBackwardKernel>("cross_entropy_bw")
          .get(probs.device(), probs.dtype())(gc, scale, probs, t, w, gx, args);
      gi[0] = gx;
    });
  }
  return y;
}

}  // namespace cairn
