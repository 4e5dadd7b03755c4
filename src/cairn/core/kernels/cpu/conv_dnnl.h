// oneDNN convolution pieces the f32 conv kernels (conv_cpu.cpp) hand work to when oneDNN is built in
// (CAIRN_HAVE_DNNL) and runs the shape with a JIT kernel. Each function returns false, having done nothing,
// when it does not take the case; the caller then uses im2col + GEMM. Internal to kernels/cpu.
#pragma once
#include "cairn/core/kernels/kernels.h"

namespace cairn::kernels::cpu {

// Which implementation the float32 conv kernels use: the measured choice per case (automatic), Cairn's own
// kernels (im2col + GEMM, and a direct kernel for weight gradients with at most 16 values per output
// channel), or oneDNN for every case it can run. Tests and benchmarks force each in turn. Process-wide.
enum class ConvImpl { automatic, cairn, dnnl };
void set_conv_impl(ConvImpl impl);
ConvImpl conv_impl();

// Same contract as Conv2dKernel, float32 only.
bool dnnl_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                         const Conv2dGeometry& g);
// The gradients oneDNN computed, each false (nothing written) when it did not take that part.
struct DnnlBackwardDone {
  bool data = false, weights = false;
};
// From gy and the forward's x and w: gw (O, C / groups, KH, KW) = and, when gb is defined, gb (O) =, when gw is
// defined; gx (N, C, H, W) = when gx is defined. float32 only. gy is reordered into oneDNN's layout once for both.
DnnlBackwardDone dnnl_conv2d_backward(const Tensor& gy, const Tensor& x, const Tensor& w, const Tensor& gx,
                                      const Tensor& gw, const Tensor& gb, const Conv2dGeometry& g);

}  // namespace cairn::kernels::cpu
