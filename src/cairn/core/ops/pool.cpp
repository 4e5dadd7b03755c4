// 2-D pooling (NCHW, or CHW treated as a batch of one), PyTorch's semantics: output sizes with ceil_mode,
// padding at most half the kernel, max pooling saving the argmax for its backward.
#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;

namespace {

std::pair<int64_t, int64_t> hw_arg(const char* op, const std::vector<int64_t>& v, const char* what) {
  CAIRN_CHECK(v.size() == 1 || v.size() == 2, ValueError, op, ": ", what,
              " must hold 1 or 2 values (height, width), got ", v.size());
  return {v[0], v.size() == 2 ? v[1] : v[0]};
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// PyTorch's pooling_output_shape: in ceil mode the last window must start inside the input or left padding.
int64_t pool_out(int64_t in, int64_t k, int64_t pad, int64_t stride, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * pad - k + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

kernels::Pool2dGeometry pool_geometry(const char* op, const Tensor& x, const Pool2dOptions& opt) {
  CAIRN_CHECK(x.dim() == 4, ShapeError, op, ": input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape ",
              shape_str(x.shape()));
  auto [kh, kw] = hw_arg(op, opt.kernel, "kernel");
  auto [sh, sw] = opt.stride.empty() ? std::pair<int64_t, int64_t>{kh, kw} : hw_arg(op, opt.stride, "stride");
  auto [ph, pw] = hw_arg(op, opt.padding, "padding");
  CAIRN_CHECK(kh >= 1 && kw >= 1, ValueError, op, ": kernel must be positive, got ", shape_str(opt.kernel));
  CAIRN_CHECK(sh >= 1 && sw >= 1, ValueError, op, ": stride must be positive, got ", shape_str(opt.stride));
  CAIRN_CHECK(ph >= 0 && pw >= 0 && 2 * ph <= kh && 2 * pw <= kw, ValueError, op,
              ": padding must be between 0 and half the kernel, got padding ", shape_str(opt.padding), " for kernel ",
              shape_str(opt.kernel));
  kernels::Pool2dGeometry g;
  g.N = x.shape()[0], g.C = x.shape()[1], g.H = x.shape()[2], g.W = x.shape()[3];
  g.KH = kh, g.KW = kw, g.stride_h = sh, g.stride_w = sw, g.pad_h = ph, g.pad_w = pw;
  g.count_include_pad = opt.count_include_pad;
  g.OH = pool_out(g.H, kh, ph, sh, opt.ceil_mode);
  g.OW = pool_out(g.W, kw, pw, sw, opt.ceil_mode);
  CAIRN_CHECK(g.OH >= 1 && g.OW >= 1, ShapeError, op, ": input of shape ", shape_str(x.shape()),
              " is too small for kernel ", kh, "x", kw, " with padding ", ph, "x", pw, " (output would be ", g.OH,
              "x", g.OW, ")");
  return g;
}

// Runs a 4-D pooling op on a 3-D input as a batch of one.
template <class F>
Tensor with_batch(const Tensor& x, const F& f) {
  if (x.defined() && x.dim() == 3) return squeeze(f(unsqueeze(x, 0)), 0);
  return f(x);
}

Tensor max_pool2d_4d(const Tensor& x, const Pool2dOptions& opt) {
  const kernels::Pool2dGeometry g = pool_geometry("max_pool2d", x, opt);
  Tensor xc = contiguous(x.detach());
  Tensor y = Tensor::empty({g.N, g.C, g.OH, g.OW}, x.dtype());
  Tensor idx = Tensor::empty({g.N, g.C, g.OH, g.OW}, DType::i64);
  kernels::table<kernels::MaxPool2dKernel>("max_pool2d").get(x.device(), x.dtype())(xc, y, idx, g);
  if (autograd::needs_grad({x}))
    autograd::record("max_pool2d", y, {x}, [idx, g, dt = x.dtype()](const Tensor& gy, Grads& gi) {
      Tensor gx = Tensor::empty({g.N, g.C, g.H, g.W}, dt);
      kernels::table<kernels::MaxPool2dBackwardKernel>("max_pool2d_bw").get(gy.device(), dt)(contiguous(gy), idx, gx, g);
      gi[0] = gx;
    });
  return y;
}

Tensor avg_pool2d_4d(const Tensor& x, const Pool2dOptions& opt) {
  const kernels::Pool2dGeometry g = pool_geometry("avg_pool2d", x, opt);
  Tensor y = Tensor::empty({g.N, g.C, g.OH, g.OW}, x.dtype());
  kernels::table<kernels::AvgPool2dKernel>("avg_pool2d").get(x.device(), x.dtype())(contiguous(x.detach()), y, g);
  if (autograd::needs_grad({x}))
    autograd::record("avg_pool2d", y, {x}, [g, dt = x.dtype()](const Tensor& gy, Grads& gi) {
      Tensor gx = Tensor::empty({g.N, g.C, g.H, g.W}, dt);
      kernels::table<kernels::AvgPool2dBackwardKernel>("avg_pool2d_bw").get(gy.device(), dt)(contiguous(gy), gx, g);
      gi[0] = gx;
    });
  return y;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  detail::check_defined("max_pool2d", x);
  detail::check_floating("max_pool2d", x);
  return with_batch(x, [&](const Tensor& x4) { return max_pool2d_4d(x4, opt); });
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  detail::check_defined("avg_pool2d", x);
  detail::check_floating("avg_pool2d", x);
  return with_batch(x, [&](const Tensor& x4) { return avg_pool2d_4d(x4, opt); });
}

Tensor global_avg_pool2d(const Tensor& x, bool keepdim) {
  detail::check_defined("global_avg_pool2d", x);
  detail::check_floating("global_avg_pool2d", x);
  CAIRN_CHECK(x.dim() == 4, ShapeError, "global_avg_pool2d: input must be 4-D (N, C, H, W), got shape ",
              shape_str(x.shape()));
  CAIRN_CHECK(x.shape()[2] > 0 && x.shape()[3] > 0, ShapeError, "global_avg_pool2d: input of shape ",
              shape_str(x.shape()), " has an empty spatial plane");
  return mean(x, {2, 3}, keepdim);  // mean's backward spreads the gradient evenly over each plane
}

}  // namespace cairn
