// 2-D convolution (NCHW, PyTorch's conv2d semantics): argument checks, the output geometry, and the
// backward that hands all three gradients to one kernel call so the input is unrolled once.
#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;

namespace {

// A (height, width) option given as one value (both) or two.
std::pair<int64_t, int64_t> hw_arg(const std::vector<int64_t>& v, const char* what) {
  CAIRN_CHECK(v.size() == 1 || v.size() == 2, ValueError, "conv2d: ", what,
              " must hold 1 or 2 values (height, width), got ", v.size());
  return {v[0], v.size() == 2 ? v[1] : v[0]};
}

kernels::Conv2dGeometry conv_geometry(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& opt) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  CAIRN_CHECK(x.dim() == 4, ShapeError, "conv2d: input must be 4-D (N, C, H, W), got shape ", shape_str(xs),
              x.dim() == 3 ? "; add the batch dimension with unsqueeze(x, 0)" : "");
  CAIRN_CHECK(w.dim() == 4, ShapeError, "conv2d: weight must be 4-D (out_channels, in_channels / groups, kh, kw), got ",
              shape_str(ws));
  kernels::Conv2dGeometry g;
  g.N = xs[0], g.C = xs[1], g.H = xs[2], g.W = xs[3];
  g.O = ws[0], g.KH = ws[2], g.KW = ws[3];
  g.groups = opt.groups;
  CAIRN_CHECK(g.groups >= 1, ValueError, "conv2d: groups must be >= 1, got ", g.groups);
  CAIRN_CHECK(g.O >= 1 && g.KH >= 1 && g.KW >= 1 && ws[1] >= 1, ShapeError, "conv2d: weight of shape ", shape_str(ws),
              " has an empty dimension");
  CAIRN_CHECK(g.C % g.groups == 0 && g.O % g.groups == 0, ShapeError, "conv2d: groups=", g.groups,
              " must divide both the input channels (input ", shape_str(xs), ") and the output channels (weight ",
              shape_str(ws), ")");
  CAIRN_CHECK(ws[1] * g.groups == g.C, ShapeError, "conv2d: input of shape ", shape_str(xs), " has ", g.C,
              " channels but weight of shape ", shape_str(ws), " with groups=", g.groups, " expects ",
              ws[1] * g.groups, " (weight.shape[1] * groups)");
  if (bias.defined())
    CAIRN_CHECK(bias.dim() == 1 && bias.shape()[0] == g.O, ShapeError, "conv2d: bias of shape ",
                shape_str(bias.shape()), " does not fit weight of shape ", shape_str(ws), " (expected [", g.O, "])");

  auto [sh, sw] = hw_arg(opt.stride, "stride");
  auto [dh, dw] = hw_arg(opt.dilation, "dilation");
  CAIRN_CHECK(sh >= 1 && sw >= 1, ValueError, "conv2d: stride must be positive, got ", shape_str(opt.stride));
  CAIRN_CHECK(dh >= 1 && dw >= 1, ValueError, "conv2d: dilation must be positive, got ", shape_str(opt.dilation));
  g.stride_h = sh, g.stride_w = sw, g.dil_h = dh, g.dil_w = dw;
  const int64_t eff_h = dh * (g.KH - 1) + 1, eff_w = dw * (g.KW - 1) + 1;  // kernel extent with dilation
  if (opt.padding_same) {
    CAIRN_CHECK(sh == 1 && sw == 1, ValueError, "conv2d: padding \"same\" needs stride 1 (as in PyTorch), got stride ",
                shape_str(opt.stride), "; give explicit padding instead");
    // Total padding eff - 1; an odd total puts the extra pixel at the bottom/right, as PyTorch does.
    g.pad_top = (eff_h - 1) / 2, g.pad_bottom = eff_h - 1 - g.pad_top;
    g.pad_left = (eff_w - 1) / 2, g.pad_right = eff_w - 1 - g.pad_left;
  } else {
    auto [ph, pw] = hw_arg(opt.padding, "padding");
    CAIRN_CHECK(ph >= 0 && pw >= 0, ValueError, "conv2d: padding must be >= 0, got ", shape_str(opt.padding));
    g.pad_top = g.pad_bottom = ph;
    g.pad_left = g.pad_right = pw;
  }
  const int64_t ph_total = g.H + g.pad_top + g.pad_bottom, pw_total = g.W + g.pad_left + g.pad_right;
  CAIRN_CHECK(ph_total >= eff_h && pw_total >= eff_w, ShapeError, "conv2d: input of shape ", shape_str(xs),
              " (", ph_total, "x", pw_total, " after padding) is smaller than the kernel of weight ", shape_str(ws),
              " (", eff_h, "x", eff_w, " with dilation ", dh, "x", dw, "); pad the input or use a smaller kernel");
  g.OH = (ph_total - eff_h) / sh + 1;
  g.OW = (pw_total - eff_w) / sw + 1;
  return g;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  detail::check_defined("conv2d", x);
  detail::check_defined("conv2d", weight, "weight");
  detail::check_floating("conv2d", x);
  detail::check_same_dtype("conv2d", x, weight);
  if (bias.defined()) detail::check_same_dtype("conv2d", x, bias);
  kernels::Conv2dGeometry g = conv_geometry(x, weight, bias, opt);
  g.relu = opt.activation == Fused::relu;
  Tensor xc = contiguous(x.detach()), wc = contiguous(weight.detach());
  Tensor bc = bias.defined() ? contiguous(bias.detach()) : Tensor();
  Tensor y = Tensor::empty({g.N, g.O, g.OH, g.OW}, x.dtype());
  kernels::table<kernels::Conv2dKernel>("conv2d").get(x.device(), x.dtype())(xc, wc, bc, y, g);
  if (autograd::needs_grad({x, weight, bias}))
    autograd::record("conv2d", y, {x, weight, bias},
                     [xc, wc, g, yr = g.relu ? y.detach() : Tensor()](const Tensor& gy, Grads& gi) {
      const DType dt = xc.dtype();
      Tensor gx = gi.needs(0) ? Tensor::empty(xc.shape(), dt) : Tensor();
      Tensor gw = gi.needs(1) ? Tensor::empty(wc.shape(), dt) : Tensor();
      Tensor gb = gi.needs(2) ? Tensor::empty({g.O}, dt) : Tensor();
      // Through the fused relu first: the gradient where the output is positive.
      const Tensor gpre = yr.defined() ? detail::run_binary("relu_bw", contiguous(gy), yr) : contiguous(gy);
      kernels::table<kernels::Conv2dBackwardKernel>("conv2d_bw").get(xc.device(), dt)(gpre, xc, wc, gx, gw, gb, g);
      gi[0] = gx, gi[1] = gw, gi[2] = gb;
    });
  return y;
}

}  // namespace cairn
