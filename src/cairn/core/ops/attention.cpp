// scaled_dot_product_attention and self_attention_packed: the fused attention kernel (kernels/cpu/
// attention_cpu.cpp) with its FlashAttention-2 style backward recorded right below each forward. Only the
// output and a logsumexp per query row are saved; the backward recomputes the scores tile by tile.
#include <cmath>

#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;

namespace {

// A view of t whose last dim is contiguous (a copy only when it is not).
Tensor last_dim_contiguous(const Tensor& t) {
  Tensor d = t.detach();
  if (d.dim() == 0 || d.shape().back() <= 1 || d.strides().back() == 1) return d;
  return contiguous(d);
}

// (B, H, T, D) view over the storage of `base` with the given element strides and offset.
Tensor view_of(const Tensor& base, const Shape& shape, const Shape& strides, int64_t extra_offset) {
  return Tensor::from_storage(base.storage(), shape, strides, base.offset() + extra_offset, base.dtype());
}

struct CheckedMasks {
  Tensor pad;   // (B, Tk) uint8 contiguous, or undefined
  Tensor mask;  // (B, H, Tq, Tk) additive view, or undefined
};

CheckedMasks check_masks(const char* op, const AttentionOptions& opt, int64_t B, int64_t H, int64_t Tq, int64_t Tk,
                         DType dtype) {
  CheckedMasks m;
  if (opt.key_padding_mask.defined()) {
    const Tensor& p = opt.key_padding_mask;
    CAIRN_CHECK(p.dtype() == DType::u8, DTypeError, op, ": key_padding_mask must be uint8 (nonzero = padding), got ",
                dtype_name(p.dtype()), "; build it with ne(tokens, pad_id) style comparisons or .to(DType::u8)");
    CAIRN_CHECK(p.dim() == 2 && p.shape()[0] == B && p.shape()[1] == Tk, ShapeError, op,
                ": key_padding_mask must be (batch, keys) = ", shape_str({B, Tk}), ", got ", shape_str(p.shape()));
    m.pad = contiguous(p.detach());
  }
  if (opt.attn_mask.defined()) {
    Tensor a = opt.attn_mask.detach();
    CAIRN_CHECK(a.dtype() == dtype, DTypeError, op, ": attn_mask is ", dtype_name(a.dtype()),
                " but the inputs are ", dtype_name(dtype),
                "; pass an additive mask (0 = keep, -inf = forbid) in the inputs' dtype");
    if (a.dim() == 2) a = a.unsqueeze(0).unsqueeze(0);
    const bool fits = a.dim() == 4 && (a.shape()[0] == B || a.shape()[0] == 1) &&
                      (a.shape()[1] == H || a.shape()[1] == 1) && a.shape()[2] == Tq && a.shape()[3] == Tk;
    CAIRN_CHECK(fits, ShapeError, op, ": attn_mask of shape ", shape_str(opt.attn_mask.shape()),
                " does not fit (queries, keys) = ", shape_str({Tq, Tk}), " or (batch or 1, heads or 1, queries, keys) = ",
                shape_str({B, H, Tq, Tk}));
    m.mask = last_dim_contiguous(a).expand({B, H, Tq, Tk});
  }
  return m;
}

// The kernel's arguments; draws the dropout seed (one per call) when there is dropout.
kernels::AttentionArgs kernel_args(const char* op, const AttentionOptions& opt, int64_t D) {
  CAIRN_CHECK(opt.dropout >= 0 && opt.dropout < 1, ValueError, op, ": dropout must be in [0, 1), got ", opt.dropout);
  kernels::AttentionArgs a{opt.scale ? *opt.scale : 1.0 / std::sqrt(static_cast<double>(D)), opt.causal};
  if (opt.dropout > 0) {
    a.dropout = opt.dropout;
    a.seed = (opt.generator ? *opt.generator : default_generator()).next_u64();
  }
  return a;
}

}  // namespace

// q: (B, H, Tq, D), k: (B, H, Tk, D), v: (B, H, Tk, Dv) -> out (B, H, Tq, Dv), stored as (B, Tq, H, Dv) so that
// out.transpose(1, 2).reshape(B, Tq, H * Dv) is a free view.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt) {
  const char* op = "scaled_dot_product_attention";
  detail::check_defined(op, q, "q");
  detail::check_defined(op, k, "k");
  detail::check_defined(op, v, "v");
  detail::check_floating(op, q, "q");
  detail::check_same_dtype(op, q, k);
  detail::check_same_dtype(op, q, v);
  CAIRN_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, ShapeError, op,
              ": q, k, v must be (batch, heads, positions, head_dim), got q ", shape_str(q.shape()), ", k ",
              shape_str(k.shape()), ", v ", shape_str(v.shape()));
  const int64_t B = q.shape()[0], H = q.shape()[1], Tq = q.shape()[2], D = q.shape()[3];
  const int64_t Tk = k.shape()[2], Dv = v.shape()[3];
  CAIRN_CHECK(k.shape()[0] == B && k.shape()[1] == H && k.shape()[3] == D && v.shape()[0] == B && v.shape()[1] == H &&
                  v.shape()[2] == Tk,
              ShapeError, op, ": shapes do not fit: q ", shape_str(q.shape()), " (B, H, Tq, D), k ", shape_str(k.shape()),
              " must be (B, H, Tk, D) and v ", shape_str(v.shape()), " (B, H, Tk, Dv)");
  const CheckedMasks m = check_masks(op, opt, B, H, Tq, Tk, q.dtype());
  const kernels::AttentionArgs args = kernel_args(op, opt, D);

  Tensor qc = last_dim_contiguous(q), kc = last_dim_contiguous(k), vc = last_dim_contiguous(v);
  Tensor buf = Tensor::empty({B, Tq, H, Dv}, q.dtype());
  Tensor out = view_of(buf, {B, H, Tq, Dv}, {Tq * H * Dv, Dv, H * Dv, 1}, 0);
  Tensor lse = Tensor::empty({B, H, Tq}, q.dtype());
  kernels::table<kernels::AttentionKernel>("attention").get(q.device(), q.dtype())(qc, kc, vc, m.pad, m.mask, out,
                                                                                   lse, args);
  if (autograd::needs_grad({q, k, v}))
    autograd::record(op, out, {q, k, v}, [qc, kc, vc, m, o = out.detach(), lse, args](const Tensor& g, Grads& gi) {
      Tensor gc = last_dim_contiguous(g);
      Tensor dq = gi.needs(0) ? Tensor::empty(qc.shape(), qc.dtype()) : Tensor();
      Tensor dk = gi.needs(1) ? Tensor::empty(kc.shape(), kc.dtype()) : Tensor();
      Tensor dv = gi.needs(2) ? Tensor::empty(vc.shape(), vc.dtype()) : Tensor();
      kernels::table<kernels::AttentionBackwardKernel>("attention_bw")
          .get(qc.device(), qc.dtype())(gc, qc, kc, vc, m.pad, m.mask, o, lse, dq, dk, dv, args);
      gi[0] = dq;
      gi[1] = dk;
      gi[2] = dv;
    });
  return out;
}

// qkv: (B, T, 3C) with C = H * D -> (B, T, C). q, k, v and their gradients are strided views into the packed
// buffers: q[b, h, t, d] = qkv[b, t, h * D + d], k at column C + h * D + d, v at 2C + h * D + d.
Tensor self_attention_packed(const Tensor& qkv, int64_t num_heads, const AttentionOptions& opt) {
  const char* op = "self_attention_packed";
  detail::check_defined(op, qkv, "qkv");
  detail::check_floating(op, qkv, "qkv");
  CAIRN_CHECK(num_heads > 0, ValueError, op, ": num_heads must be positive, got ", num_heads);
  CAIRN_CHECK(qkv.dim() == 3 && qkv.shape()[2] % (3 * num_heads) == 0, ShapeError, op,
              ": qkv must be (batch, positions, 3 * heads * head_dim) with ", num_heads, " heads, got ",
              shape_str(qkv.shape()));
  const int64_t B = qkv.shape()[0], T = qkv.shape()[1], C = qkv.shape()[2] / 3, H = num_heads, D = C / H;
  const CheckedMasks m = check_masks(op, opt, B, H, T, T, qkv.dtype());
  const kernels::AttentionArgs args = kernel_args(op, opt, D);

  Tensor x = contiguous(qkv.detach());
  const Shape bhtd{B, H, T, D}, in_strides{T * 3 * C, D, 3 * C, 1};
  Tensor q = view_of(x, bhtd, in_strides, 0), k = view_of(x, bhtd, in_strides, C), v = view_of(x, bhtd, in_strides, 2 * C);
  Tensor out = Tensor::empty({B, T, C}, qkv.dtype());
  const Shape out_strides{T * C, D, C, 1};
  Tensor o = view_of(out, bhtd, out_strides, 0);
  Tensor lse = Tensor::empty({B, H, T}, qkv.dtype());
  kernels::table<kernels::AttentionKernel>("attention").get(x.device(), x.dtype())(q, k, v, m.pad, m.mask, o, lse,
                                                                                   args);
  if (autograd::needs_grad({qkv}))
    autograd::record(op, out, {qkv}, [q, k, v, m, o, lse, args, bhtd, in_strides, out_strides](const Tensor& g, Grads& gi) {
      Tensor gc = contiguous(g);
      Tensor go = view_of(gc, bhtd, out_strides, 0);
      const int64_t B = bhtd[0], T = bhtd[2], C = bhtd[1] * bhtd[3];
      Tensor dqkv = Tensor::empty({B, T, 3 * C}, q.dtype());
      Tensor dq = view_of(dqkv, bhtd, in_strides, 0), dk = view_of(dqkv, bhtd, in_strides, C),
             dv = view_of(dqkv, bhtd, in_strides, 2 * C);
      kernels::table<kernels::AttentionBackwardKernel>("attention_bw")
          .get(q.device(), q.dtype())(go, q, k, v, m.pad, m.mask, o, lse, dq, dk, dv, args);
      gi[0] = dqkv;
    });
  return out;
}

}  // namespace cairn
