// Matrix products through the registered GEMM kernel (OpenBLAS on the CPU). Transposed operands are
// passed to BLAS as transposes, never copied; only matrices with no unit stride are made contiguous.
#include <cstring>

#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;

namespace {

// A matrix operand for BLAS: data pointer, and whether it is stored transposed, with its leading dim.
struct BlasMat {
  const char* ptr;
  bool trans;
  int64_t ld;
};

// Describes the last two dims of t (rows, cols) starting at element `off` of its storage; t must be
// blas_ready().
BlasMat blas_mat(const Tensor& t, int64_t off) {
  const int64_t nd = t.dim();
  const int64_t rs = t.strides()[nd - 2], cs = t.strides()[nd - 1];
  const int64_t rows = t.shape()[nd - 2], cols = t.shape()[nd - 1];
  const char* p = static_cast<const char*>(t.storage()->data()) + off * static_cast<int64_t>(t.element_size());
  if (cs == 1 || cols == 1) return {p, false, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
  return {p, true, cs};
}

bool blas_ready(const Tensor& t) {
  const int64_t nd = t.dim();
  const int64_t rs = t.strides()[nd - 2], cs = t.strides()[nd - 1];
  const int64_t rows = t.shape()[nd - 2], cols = t.shape()[nd - 1];
  if (cs == 1 || cols == 1) return rows == 1 || rs >= std::max<int64_t>(cols, 1);
  if (rs == 1 || rows == 1) return cols == 1 || cs >= std::max<int64_t>(rows, 1);
  return false;
}

Tensor blas_operand(const Tensor& t) { return blas_ready(t) ? t : contiguous(t); }

// out (contiguous, batch..., M, N) = a (batch..., M, K) @ b (batch..., K, N), a and b already expanded to
// the batch shape (expanded dims have stride 0).
void batched_gemm(const Tensor& a, const Tensor& b, const Tensor& out, double beta = 0.0) {
  const int64_t nd = out.dim();
  const int64_t M = out.shape()[nd - 2], N = out.shape()[nd - 1], K = a.shape()[nd - 1];
  auto gemm = kernels::table<kernels::GemmKernel>("gemm").get(a.device(), a.dtype());
  Shape batch(out.shape().begin(), out.shape().end() - 2);
  const int64_t nb = numel_of(batch);
  const size_t es = out.element_size();
  std::vector<int64_t> idx(batch.size(), 0);
  for (int64_t i = 0; i < nb; ++i) {
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < batch.size(); ++d) {
      oa += idx[d] * a.strides()[d];
      ob += idx[d] * b.strides()[d];
    }
    BlasMat A = blas_mat(a, a.offset() + oa), B = blas_mat(b, b.offset() + ob);
    char* C = static_cast<char*>(out.raw_data()) + i * M * N * static_cast<int64_t>(es);
    if (K == 0) {
      if (beta == 0.0) std::memset(C, 0, M * N * es);
    } else {
      gemm(A.trans, B.trans, M, N, K, 1.0, A.ptr, A.ld, B.ptr, B.ld, beta, C, std::max<int64_t>(N, 1));
    }
    for (size_t d = batch.size(); d-- > 0;) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
}

Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  const int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1];
  const int64_t K2 = b.shape()[b.dim() - 2], N = b.shape()[b.dim() - 1];
  CAIRN_CHECK(K == K2, ShapeError, "matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
              " cannot be multiplied (", M, "x", K, " and ", K2, "x", N, "): the inner dimensions differ");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(ba, bb, "matmul (batch dims)");
  } catch (const ShapeError& e) {
    throw ShapeError(detail::cat("matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
                                 ": the batch dims (all but the last two) must broadcast; ", e.what()));
  }
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape, a.dtype());
  if (b.dim() == 2 && a.dim() > 2 && a.is_contiguous()) {
    // (..., M, K) @ (K, N): one GEMM over all rows.
    Tensor a2 = reshape(a.detach(), {-1, K});
    Tensor o2 = reshape(out, {-1, N});
    Tensor bo = blas_operand(b.detach());
    batched_gemm(a2, bo, o2);
    return out;
  }
  Shape ea = batch, eb = batch;
  ea.push_back(M);
  ea.push_back(K);
  eb.push_back(K);
  eb.push_back(N);
  Tensor ax = expand(blas_operand(a.detach()), ea), bx = expand(blas_operand(b.detach()), eb);
  batched_gemm(ax, bx, out);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_same_dtype("matmul", a, b);
  detail::check_floating("matmul", a);
  CAIRN_CHECK(a.dim() >= 1 && b.dim() >= 1, ShapeError, "matmul: both operands need at least 1 dimension, got ",
              shape_str(a.shape()), " and ", shape_str(b.shape()));
  // 1-D @ 1-D is a dot product with a 0-d result (the general 1-D rule below would squeeze a 1-D result twice).
  if (a.dim() == 1 && b.dim() == 1) return squeeze(squeeze(matmul(unsqueeze(a, 0), unsqueeze(b, 1)), 1), 0);
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  Tensor y = matmul_nd(a, b);
  if (autograd::needs_grad({a, b}))
    autograd::record("matmul", y, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g, Grads& gi) {
      if (gi.needs(0)) gi[0] = matmul(g, transpose(b, -1, -2));
      if (gi.needs(1)) {
        if (b.dim() == 2 && a.dim() > 2) {
          const int64_t K = a.shape().back(), N = g.shape().back();
          gi[1] = matmul(transpose(reshape(a, {-1, K}), 0, 1), reshape(g, {-1, N}));
        } else {
          gi[1] = matmul(transpose(a, -1, -2), g);
        }
      }
    });
  return y;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Fused activation) {
  detail::check_defined("linear", weight, "weight");
  CAIRN_CHECK(weight.dim() == 2, ShapeError, "linear: weight must be 2-D (out_features, in_features), got ",
              shape_str(weight.shape()));
  CAIRN_CHECK(x.dim() >= 1 && x.shape().back() == weight.shape()[1], ShapeError, "linear: input of shape ",
              shape_str(x.shape()), " does not fit weight of shape ", shape_str(weight.shape()),
              " (the input's last dimension must equal in_features = ", weight.shape()[1], ")");
  if (bias.defined())
    CAIRN_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0], ShapeError, "linear: bias of shape ",
                shape_str(bias.shape()), " does not fit weight of shape ", shape_str(weight.shape()));
  detail::check_same_dtype("linear", x, weight);
  const int64_t in = weight.shape()[1], out_f = weight.shape()[0];
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  Tensor y = Tensor::empty(out_shape, x.dtype());
  const bool relu = activation == Fused::relu;
  {
    Tensor x2 = blas_operand(reshape(x.detach(), {-1, in}));
    Tensor y2 = reshape(y, {-1, out_f});
    // One call when the device has a fused kernel for the case: y = x @ W^T + b, relu.
    const auto& fused = kernels::table<kernels::LinearKernel>("linear");
    const Tensor w = weight.detach(), b = bias.defined() ? bias.detach() : Tensor();
    const bool done = fused.has(x.device(), x.dtype()) && x2.strides()[1] == 1 && x2.strides()[0] >= in &&
                      w.is_contiguous() && (!b.defined() || b.is_contiguous()) &&
                      fused.get(x.device(), x.dtype())(x2.shape()[0], out_f, in, x2.raw_data(), x2.strides()[0],
                                                       w.raw_data(), b.defined() ? b.raw_data() : nullptr,
                                                       y2.raw_data(), relu);
    if (!done) {
      // y = x @ W^T (+ b): bias copied into y first, then GEMM with beta = 1; relu in place after.
      if (b.defined()) y2.copy_(b);
      batched_gemm(x2, transpose(blas_operand(w), 0, 1), y2, b.defined() ? 1.0 : 0.0);
      if (relu) kernels::table<kernels::UnaryKernel>("relu").get(y.device(), y.dtype())(y, y, {});
    }
  }
  if (autograd::needs_grad({x, weight, bias}))
    autograd::record("linear", y, {x, weight, bias},
                     [x = x.detach(), w = weight.detach(), in, out_f, yr = relu ? y.detach() : Tensor()](
                         const Tensor& g, Grads& gi) {
                       // Through the fused relu first: the gradient where the output is positive.
                       Tensor g2 = reshape(yr.defined() ? detail::run_binary("relu_bw", g, yr) : g, {-1, out_f});
                       if (gi.needs(0)) gi[0] = reshape(matmul(g2, w), x.shape());
                       if (gi.needs(1)) gi[1] = matmul(transpose(g2, 0, 1), reshape(x, {-1, in}));
                       if (gi.needs(2)) gi[2] = sum(g2, {0});
                     });
  return y;
}

}  // namespace cairn
