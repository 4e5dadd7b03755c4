// Kernel signatures shared by every backend. Ops (cairn/core/ops) allocate outputs and check arguments;
// kernels only compute. Each signature says which buffers are assigned (=) and which accumulated (+=).
#pragma once
#include <algorithm>
#include <cstdint>

#include "cairn/core/kernels/registry.h"
#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn::kernels {

struct Scalars {
  double a = 0.0, b = 0.0;
};

// out = f(x) elementwise. out: contiguous, x.shape == out.shape (x may be strided).
// Ops: neg exp log sqrt rsqrt abs square sign relu sigmoid tanh gelu gelu_tanh silu softplus(a=beta, b=threshold)
// leaky_relu(a=slope) pow_scalar(a) clamp(a=lo, b=hi) add_scalar(a) mul_scalar(a) rsub_scalar(a) rdiv_scalar(a)
using UnaryKernel = void (*)(const Tensor& x, const Tensor& out, Scalars p);
// out = f(x) and grad = f'(x) in one pass, for the backward to be a product: g * grad. x, out, grad contiguous,
// same shape. Ops: gelu_with_grad gelu_tanh_with_grad.
using UnaryWithGradKernel = void (*)(const Tensor& x, const Tensor& out, const Tensor& grad, Scalars p);

// out = f(a, b) elementwise with a and b broadcast to out.shape. out: contiguous.
// Ops: add sub mul div maximum minimum pow; comparisons eq ne lt le gt ge (out uint8);
// backward helpers (a = incoming gradient, b = saved input or output): relu_bw leaky_relu_bw(p.a) sigmoid_bw(b=y)
// tanh_bw(b=y) gelu_bw gelu_tanh_bw silu_bw softplus_bw(p.a, p.b) clamp_bw(p.a, p.b) abs_bw
using BinaryKernel = void (*)(const Tensor& a, const Tensor& b, const Tensor& out, Scalars p);

// out = cond ? a : b, all broadcast to out.shape; cond uint8. Keyed by a's dtype. Op: where.
using WhereKernel = void (*)(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);

// dst = src converted to dst.dtype(), src broadcast to dst.shape, both strided. Keyed by src dtype. Op: copy.
using CopyKernel = void (*)(const Tensor& src, const Tensor& dst);
// dst = value (dst strided). Op: fill.
using FillKernel = void (*)(const Tensor& dst, double value);

// x contiguous, viewed as (A, R, C); out contiguous (A, C) = reduction over R.
// Ops: sum max min (out = x's dtype); sumsq_dev (sum of squared deviations from `aux` (A, C) means).
using ReduceKernel = void (*)(const Tensor& x, const Tensor& out, int64_t A, int64_t R, int64_t C);
// x contiguous (A, R, C) -> values (A, C), indices int64 (A, C) of the first max/min. Ops: argmax argmin.
using ArgReduceKernel = void (*)(const Tensor& x, const Tensor& values, const Tensor& indices, int64_t A, int64_t R,
                                 int64_t C);

// Row-major GEMM: C = alpha * op(A) @ op(B) + beta * C, op = transpose when ta/tb. Op: gemm.
using GemmKernel = void (*)(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A,
                            int64_t lda, const void* B, int64_t ldb, double beta, void* C, int64_t ldc);
// A dense layer in one call: y (M, N) contiguous = x (M, K; row stride ldx) @ w^T, w (N, K) contiguous, plus bias
// (N, or null), then relu when asked. Returns false, having written nothing, when it does not take the case (the op
// then runs GEMM and elementwise steps). Optional per device and dtype. Op: linear.
using LinearKernel = bool (*)(int64_t M, int64_t N, int64_t K, const void* x, int64_t ldx, const void* w,
                              const void* bias, void* y, bool relu);

// ---- softmax and cross-entropy (kernels/cpu/softmax_cpu.cpp) ----
// x contiguous, viewed as (A, R, C), normalised over R -> out (A, R, C) =. Ops: softmax log_softmax.
using SoftmaxKernel = void (*)(const Tensor& x, const Tensor& out, int64_t A, int64_t R, int64_t C);
// g, y (the forward's output), gx all contiguous (A, R, C); gx =
//   softmax_bw:     y * (g - sum_R(g * y))
//   log_softmax_bw: g - exp(y) * sum_R(g)
using SoftmaxBackwardKernel = void (*)(const Tensor& g, const Tensor& y, const Tensor& gx, int64_t A, int64_t R,
                                       int64_t C);

struct CrossEntropyArgs {
  int64_t N = 0, C = 0, S = 1;  // logits (N, C, S), targets (N, S)
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
};
// logits contiguous (N, C, S); target int64 contiguous (N, S), every value in [0, C) or ignore_index (the op
// checks); weight (C) contiguous or undefined (all ones). loss (N, S) = per-position loss, 0 where ignored:
//   (1 - ls) * -w[t] * logp[t] + (ls / C) * -sum_c w[c] * logp[c]
// probs (N, C, S) = softmax over C, or undefined when no backward will follow. Op: cross_entropy.
using CrossEntropyKernel = void (*)(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                    const Tensor& probs, const Tensor& loss, CrossEntropyArgs a);
// grad_logits (N, C, S) = d(sum(gamma * loss))/d logits with gamma = scale * gloss, gloss either (N, S) or one
// element (broadcast); from the forward's probs, no exp. Op: cross_entropy_bw.
using CrossEntropyBackwardKernel = void (*)(const Tensor& gloss, double scale, const Tensor& probs,
                                            const Tensor& target, const Tensor& weight, const Tensor& grad_logits,
                                            CrossEntropyArgs a);

// ---- normalisation (kernels/cpu/norm_cpu.cpp) ----
// x contiguous (M, D), weight/bias (D) contiguous or undefined -> out (M, D) =, mean (M) =, rstd (M) = with
// rstd = 1 / sqrt(biased var + eps). Op: layer_norm.
using LayerNormKernel = void (*)(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                                 const Tensor& mean, const Tensor& rstd, int64_t M, int64_t D, double eps);
// From dout, x (M, D) and the forward's mean/rstd (M): dx (M, D) =, dweight (D) =, dbias (D) =; each output
// may be undefined (not wanted); weight may be undefined (identity). Op: layer_norm_bw.
using LayerNormBackwardKernel = void (*)(const Tensor& dout, const Tensor& x, const Tensor& mean,
                                         const Tensor& rstd, const Tensor& weight, const Tensor& dx,
                                         const Tensor& dweight, const Tensor& dbias, int64_t M, int64_t D);
// x contiguous (N, C, S) -> out (N, C, S) =, save_mean (C) =, save_invstd (C) =.
// training: batch statistics over N and S (biased variance normalises); running_mean/var (C, any stride, may
// be undefined) updated in place: r = (1 - momentum) * r + momentum * stat, with the unbiased variance.
// inference: the running statistics (required). weight/bias (C) contiguous or undefined. Op: batch_norm.
using BatchNormKernel = void (*)(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 const Tensor& running_mean, const Tensor& running_var, const Tensor& out,
                                 const Tensor& save_mean, const Tensor& save_invstd, int64_t N, int64_t C,
                                 int64_t S, bool training, double momentum, double eps);
// From dout, x (N, C, S) and the forward's save_mean/save_invstd: dx =, dweight (C) =, dbias (C) = (each may be
// undefined). training: dx flows through the batch statistics; inference: they are constants. Op: batch_norm_bw.
using BatchNormBackwardKernel = void (*)(const Tensor& dout, const Tensor& x, const Tensor& weight,
                                         const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx,
                                         const Tensor& dweight, const Tensor& dbias, int64_t N, int64_t C,
                                         int64_t S, bool training);

// ---- indexing (kernels/cpu/indexing_cpu.cpp); index tensors are int64, contiguous, values checked ----
// x contiguous viewed as (A, D, B), index (n) in [0, D) -> out (A, n, B) =. Op: index_select.
using IndexSelectKernel = void (*)(const Tensor& x, const Tensor& index, const Tensor& out, int64_t A, int64_t D,
                                   int64_t B);
// out contiguous (A, D, B) += src contiguous (A, n, B) at rows index (n) in [0, D); repeated rows add up in
// index order. Op: index_add.
using IndexAddKernel = void (*)(const Tensor& out, const Tensor& index, const Tensor& src, int64_t A, int64_t D,
                                int64_t B);
// out (index's shape, contiguous) = x[..., index[...], ...] along dim; x strided. Op: gather.
using GatherKernel = void (*)(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out);
// out (contiguous) += src (strided) scattered along dim by index (PyTorch's scatter_add_). Op: scatter_add.
using ScatterAddKernel = void (*)(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);

// ---- dropout (kernels/cpu/dropout_cpu.cpp) ----
// x contiguous (n) -> mask (n) = keep ? scale : 0, out (n) = x * mask, keep drawn as gen.uniform() >= p in
// element order (so results depend only on the generator's state). Op: dropout.
using DropoutKernel = void (*)(const Tensor& x, const Tensor& mask, const Tensor& out, double p, Generator& gen);

// ---- convolution and pooling (kernels/cpu/conv_cpu.cpp, conv_dnnl.cpp, pool_cpu.cpp) ----
// One 2-D convolution, sizes already checked by the op: out = floor((in + pad_lo + pad_hi - dil * (k - 1) - 1) /
// stride) + 1. Padding may be asymmetric (PyTorch's "same" puts the odd extra pixel at the bottom/right).
struct Conv2dGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0;  // x (N, C, H, W)
  int64_t O = 0, KH = 0, KW = 0;       // weight (O, C / groups, KH, KW)
  int64_t OH = 0, OW = 0;              // y (N, O, OH, OW)
  int64_t stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dil_h = 1, dil_w = 1, groups = 1;
  bool relu = false;  // forward only: y = max(y, 0) after the bias
};
// x, w, bias (O, or undefined) contiguous -> y (N, O, OH, OW) contiguous =. Op: conv2d.
using Conv2dKernel = void (*)(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                              const Conv2dGeometry& g);
// From gy (N, O, OH, OW) and the forward's x and w (all contiguous): gx (N, C, H, W) =, gw (O, C / groups, KH, KW)
// =, gb (O) =, each contiguous or undefined (not wanted). Op: conv2d_bw.
using Conv2dBackwardKernel = void (*)(const Tensor& gy, const Tensor& x, const Tensor& w, const Tensor& gx,
                                      const Tensor& gw, const Tensor& gb, const Conv2dGeometry& g);

// Pooling windows over each (n, c) plane; ih = oh * stride_h - pad_h + kh, sizes checked by the op.
struct Pool2dGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0, OH = 0, OW = 0;
  int64_t KH = 1, KW = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // avg pool: divide by the window clipped to the padded input (else to the input)
};
// x (N, C, H, W) contiguous -> y (N, C, OH, OW) =, indices int64 (N, C, OH, OW) = the flat ih * W + iw of each
// window's first maximum (padding counts as -inf; NaN wins). Op: max_pool2d.
using MaxPool2dKernel = void (*)(const Tensor& x, const Tensor& y, const Tensor& indices, const Pool2dGeometry& g);
// gx (N, C, H, W) = 0, then gx[n, c, indices] += gy. gy, indices contiguous. Op: max_pool2d_bw.
using MaxPool2dBackwardKernel = void (*)(const Tensor& gy, const Tensor& indices, const Tensor& gx,
                                         const Pool2dGeometry& g);
// y = window means (divisor per count_include_pad, PyTorch's rule). Op: avg_pool2d.
using AvgPool2dKernel = void (*)(const Tensor& x, const Tensor& y, const Pool2dGeometry& g);
// gx (N, C, H, W) = the adjoint of avg_pool2d applied to gy. Op: avg_pool2d_bw.
using AvgPool2dBackwardKernel = void (*)(const Tensor& gy, const Tensor& gx, const Pool2dGeometry& g);

// ---- attention (kernels/cpu/attention_cpu.cpp) ----
// q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv), out (B, H, Tq, Dv): any strides with the last dim
// contiguous. key_padding (B, Tk) uint8 contiguous or undefined; attn_mask (B, H, Tq, Tk) additive in q's dtype,
// last dim contiguous (size-1 dims broadcast with stride 0), or undefined. out =, lse (B, H, Tq) contiguous =
// logsumexp of each query's scaled, masked scores (-inf when every key is masked; out is then 0). Op: attention.
// dropout > 0: each probability P[i, j] of pair p = b * H + h is kept (and scaled by 1 / (1 - dropout)) when
// attention_dropout_bits(seed, p, i, j, Tq, Tk) >= dropout * 2^32, zeroed otherwise; the backward recomputes the
// same mask from the seed.
struct AttentionArgs {
  double scale = 1.0;
  bool causal = false;
  double dropout = 0.0;
  uint64_t seed = 0;
};
// 32 uniform bits per (pair, query, key): splitmix64 at position ((p * Tq + i) * Tk + j) of the seed's stream.
inline uint32_t attention_dropout_bits(uint64_t seed, int64_t pair, int64_t i, int64_t j, int64_t Tq, int64_t Tk) {
  uint64_t z = seed + static_cast<uint64_t>((pair * Tq + i) * Tk + j + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return static_cast<uint32_t>((z ^ (z >> 31)) >> 32);
}
inline uint32_t attention_dropout_threshold(double dropout) {
  return static_cast<uint32_t>(std::min(dropout * 4294967296.0, 4294967295.0));
}
using AttentionKernel = void (*)(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_padding,
                                 const Tensor& attn_mask, const Tensor& out, const Tensor& lse, AttentionArgs a);
// From dout (B, H, Tq, Dv) and the forward's q, k, v, out, lse (layouts as above): dq, dk, dv = (same shapes as
// q, k, v, any strides with the last dim contiguous, each may be undefined = not wanted). Op: attention_bw.
using AttentionBackwardKernel = void (*)(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                                         const Tensor& key_padding, const Tensor& attn_mask, const Tensor& out,
                                         const Tensor& lse, const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                         AttentionArgs a);

}  // namespace cairn::kernels
