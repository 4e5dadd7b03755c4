// layer_norm and batch_norm, each forward with its backward right below it; both are fused kernels
// (kernels/cpu/norm_cpu.cpp) that save the per-row / per-channel statistics for the backward pass.
#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;

namespace {
// Checks an optional affine parameter: undefined, or `shape` and x's dtype.
void check_param(const char* op, const char* what, const Tensor& p, const Shape& shape, const Tensor& x) {
  if (!p.defined()) return;
  CAIRN_CHECK(p.shape() == shape, ShapeError, op, ": ", what, " of shape ", shape_str(p.shape()),
              " does not fit input of shape ", shape_str(x.shape()), " (expected ", shape_str(shape), ")");
  CAIRN_CHECK(p.dtype() == x.dtype(), DTypeError, op, ": ", what, " is ", dtype_name(p.dtype()), " but the input is ",
              dtype_name(x.dtype()), "; convert one of them with .to()");
}

Tensor contiguous_or_none(const Tensor& t) { return t.defined() ? contiguous(t.detach()) : Tensor(); }
}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "layer_norm";
  detail::check_defined(op, x);
  detail::check_floating(op, x);
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  bool fits = k >= 1 && k <= x.dim();
  for (int64_t i = 0; fits && i < k; ++i)
    if (x.shape()[x.dim() - k + i] != normalized_shape[i]) fits = false;
  CAIRN_CHECK(fits, ShapeError, "layer_norm: normalized_shape ", shape_str(normalized_shape),
              " must be non-empty and equal the trailing dimensions of the input's shape ", shape_str(x.shape()));
  check_param(op, "weight", weight, normalized_shape, x);
  check_param(op, "bias", bias, normalized_shape, x);
  CAIRN_CHECK(eps >= 0, ValueError, "layer_norm: eps must be >= 0, got ", eps);
  const int64_t D = numel_of(normalized_shape), M = D ? x.numel() / D : 0;

  Tensor xc = contiguous(x.detach());
  Tensor w = contiguous_or_none(weight), b = contiguous_or_none(bias);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  Tensor mean = Tensor::empty({M}, x.dtype()), rstd = Tensor::empty({M}, x.dtype());
  kernels::table<kernels::LayerNormKernel>(op).get(x.device(), x.dtype())(xc, w, b, y, mean, rstd, M, D, eps);
  if (autograd::needs_grad({x, weight, bias}))
    autograd::record(op, y, {x, weight, bias},
                     [xc, w, mean, rstd, M, D, ns = normalized_shape](const Tensor& g, Grads& gi) {
                       Tensor gc = contiguous(g);
                       Tensor dx = gi.needs(0) ? Tensor::empty(xc.shape(), xc.dtype()) : Tensor();
                       Tensor dw = gi.needs(1) ? Tensor::empty(ns, xc.dtype()) : Tensor();
                       Tensor db = gi.needs(2) ? Tensor::empty(ns, xc.dtype()) : Tensor();
                       kernels::table<kernels::LayerNormBackwardKernel>("layer_norm_bw")
                           .get(xc.device(), xc.dtype())(gc, xc, mean, rstd, w, dx, dw, db, M, D);
                       gi[0] = dx;
                       gi[1] = dw;
                       gi[2] = db;
                     });
  return y;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  detail::check_defined(op, x);
  detail::check_floating(op, x);
  CAIRN_CHECK(x.dim() >= 2, ShapeError, "batch_norm: input must be (N, C) or (N, C, ...), got shape ",
              shape_str(x.shape()));
  const int64_t N = x.shape()[0], C = x.shape()[1], S = numel_of(x.shape()) / std::max<int64_t>(N * C, 1);
  check_param(op, "weight", weight, {C}, x);
  check_param(op, "bias", bias, {C}, x);
  check_param(op, "running_mean", running_mean, {C}, x);
  check_param(op, "running_var", running_var, {C}, x);
  CAIRN_CHECK(running_mean.defined() == running_var.defined(), ValueError,
              "batch_norm: give both running_mean and running_var, or neither");
  if (training) {
    CAIRN_CHECK(N * S > 1, ValueError,
                "batch_norm: expected more than 1 value per channel when training, got input of shape ",
                shape_str(x.shape()), "; use a batch larger than 1 or evaluation mode");
  } else {
    CAIRN_CHECK(running_mean.defined(), ValueError,
                "batch_norm: evaluation mode needs running_mean and running_var (input of shape ", shape_str(x.shape()),
                ")");
  }
  CAIRN_CHECK(eps >= 0, ValueError, "batch_norm: eps must be >= 0, got ", eps);

  Tensor xc = contiguous(x.detach());
  Tensor w = contiguous_or_none(weight), b = contiguous_or_none(bias);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  Tensor save_mean = Tensor::empty({C}, x.dtype()), save_invstd = Tensor::empty({C}, x.dtype());
  // The running statistics are buffers, not part of the graph: the kernel updates them in place.
  Tensor rm = running_mean.defined() ? running_mean.detach() : Tensor();
  Tensor rv = running_var.defined() ? running_var.detach() : Tensor();
  kernels::table<kernels::BatchNormKernel>(op).get(x.device(), x.dtype())(xc, w, b, rm, rv, y, save_mean, save_invstd,
                                                                          N, C, S, training, momentum, eps);
  if (autograd::needs_grad({x, weight, bias}))
    autograd::record(
        op, y, {x, weight, bias}, [xc, w, save_mean, save_invstd, N, C, S, training](const Tensor& g, Grads& gi) {
          Tensor gc = contiguous(g);
          Tensor dx = gi.needs(0) ? Tensor::empty(xc.shape(), xc.dtype()) : Tensor();
          Tensor dw = gi.needs(1) ? Tensor::empty({C}, xc.dtype()) : Tensor();
          Tensor db = gi.needs(2) ? Tensor::empty({C}, xc.dtype()) : Tensor();
          kernels::table<kernels::BatchNormBackwardKernel>("batch_norm_bw")
              .get(xc.device(), xc.dtype())(gc, xc, w, save_mean, save_invstd, dx, dw, db, N, C, S, training);
          gi[0] = dx;
          gi[1] = dw;
          gi[2] = db;
        });
  return y;
}

}  // namespace cairn
