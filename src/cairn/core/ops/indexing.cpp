// index_select, gather and scatter_add, each forward with its backward right below it. Every index is checked
// (serially, before any kernel runs) so a bad one throws IndexError naming the op, the value, its position
// and the dimension's size instead of reading outside the tensor.
#include "cairn/core/ops/index_utils.h"

namespace cairn {
using autograd::Grads;

namespace {

void check_has_dims(const char* op, const Tensor& x) {
  CAIRN_CHECK(x.dim() >= 1, ShapeError, op, ": the input is 0-d (shape []); unsqueeze it to shape [1] first");
}

// Throws IndexError for the first index outside [0, size).
void check_index_values(const char* op, const Tensor& idx, int64_t size, int64_t dim, const Tensor& x) {
  const int64_t bad = detail::first_out_of_range(idx, size);
  if (bad < 0) return;
  throw IndexError(detail::cat(op, ": index ", static_cast<const int64_t*>(idx.raw_data())[bad], " at position ",
                               detail::position_str(bad, idx.shape()), " is out of range for dimension ", dim,
                               " of size ", size, " (input shape ", shape_str(x.shape()), ", index shape ",
                               shape_str(idx.shape()), "); indices must lie in [0, ", size - 1, "]"));
}

// x (A, D, B) around dim.
void split_around(const Shape& s, int64_t dim, int64_t& A, int64_t& D, int64_t& B) {
  A = B = 1;
  for (int64_t i = 0; i < dim; ++i) A *= s[i];
  D = s[dim];
  for (size_t i = dim + 1; i < s.size(); ++i) B *= s[i];
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "index_select";
  detail::check_defined(op, x);
  check_has_dims(op, x);
  const int64_t d = wrap_dim(dim, x.dim(), op);
  CAIRN_CHECK(index.dim() <= 1, ShapeError, "index_select: index must be 1-D, got shape ", shape_str(index.shape()),
              " (input shape ", shape_str(x.shape()), ")");
  Tensor idx = detail::index_as_i64(op, index).reshape({index.numel()});
  int64_t A, D, B;
  split_around(x.shape(), d, A, D, B);
  check_index_values(op, idx, D, d, x);
  Shape out_shape = x.shape();
  out_shape[d] = idx.numel();
  Tensor out = Tensor::empty(out_shape, x.dtype());
  Tensor xc = contiguous(x.detach());
  kernels::table<kernels::IndexSelectKernel>(op).get(x.device(), x.dtype())(xc, idx, out, A, D, B);
  if (autograd::needs_grad({x}))
    autograd::record(op, out, {x}, [idx, in = x.shape(), A, D, B](const Tensor& g, Grads& gi) {
      // index_add into zeros: repeated indices sum their gradients.
      Tensor gx = zeros(in, g.dtype());
      kernels::table<kernels::IndexAddKernel>("index_add").get(g.device(), g.dtype())(gx, idx, contiguous(g), A, D, B);
      gi[0] = gx;
    });
  return out;
}

namespace {

// Shapes for gather/scatter_add (PyTorch's rules): index has x's rank, index.size(d) <= x.size(d) for d != dim,
// and (scatter) index.size(d) <= src.size(d) for every d.
void check_scatter_shapes(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor* src) {
  bool ok = index.dim() == x.dim() && (!src || src->dim() == x.dim());
  for (int64_t i = 0; ok && i < x.dim(); ++i) {
    if (i != dim && index.shape()[i] > x.shape()[i]) ok = false;
    if (src && index.shape()[i] > src->shape()[i]) ok = false;
  }
  if (ok) return;
  std::string shapes = detail::cat("input ", shape_str(x.shape()), ", index ", shape_str(index.shape()));
  if (src) shapes += detail::cat(", src ", shape_str(src->shape()));
  throw ShapeError(detail::cat(op, ": shapes do not fit (", shapes, "); index needs the input's rank and, in every ",
                               "dimension but ", dim, ", a size no larger than the input's",
                               src ? " (and no larger than src's in every dimension)" : ""));
}

Tensor gather_raw(const Tensor& x, int64_t dim, const Tensor& idx) {
  Tensor out = Tensor::empty(idx.shape(), x.dtype());
  kernels::table<kernels::GatherKernel>("gather").get(x.device(), x.dtype())(x, dim, idx, out);
  return out;
}

// out (x's shape) = x + src scattered by idx along dim.
Tensor scatter_add_raw(const Tensor& x, int64_t dim, const Tensor& idx, const Tensor& src) {
  Tensor out = clone(x.detach());
  kernels::table<kernels::ScatterAddKernel>("scatter_add").get(x.device(), x.dtype())(out, dim, idx, src.detach());
  return out;
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "gather";
  detail::check_defined(op, x);
  check_has_dims(op, x);
  const int64_t d = wrap_dim(dim, x.dim(), op);
  Tensor idx = detail::index_as_i64(op, index);
  check_scatter_shapes(op, x, d, idx, nullptr);
  check_index_values(op, idx, x.shape()[d], d, x);
  Tensor out = gather_raw(x.detach(), d, idx);
  if (autograd::needs_grad({x}))
    autograd::record(op, out, {x}, [idx, d, in = x.shape()](const Tensor& g, Grads& gi) {
      gi[0] = scatter_add_raw(zeros(in, g.dtype()), d, idx, g);
    });
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "scatter_add";
  detail::check_defined(op, x);
  detail::check_defined(op, src, "src");
  check_has_dims(op, x);
  detail::check_same_dtype(op, x, src);
  const int64_t d = wrap_dim(dim, x.dim(), op);
  Tensor idx = detail::index_as_i64(op, index);
  check_scatter_shapes(op, x, d, idx, &src);
  check_index_values(op, idx, x.shape()[d], d, x);
  Tensor out = scatter_add_raw(x, d, idx, src);
  if (autograd::needs_grad({x, src}))
    autograd::record(op, out, {x, src}, [idx, d, src_shape = src.shape()](const Tensor& g, Grads& gi) {
      gi[0] = g;
      if (!gi.needs(1)) return;
      Tensor gs = gather_raw(g, d, idx);
      if (gs.shape() != src_shape) {
        // src may be larger than index: the elements it never scattered get no gradient.
        Tensor full_gs = zeros(src_shape, g.dtype());
        Tensor region = full_gs;
        for (int64_t i = 0; i < full_gs.dim(); ++i) region = region.narrow(i, 0, gs.shape()[i]);
        region.copy_(gs);
        gs = full_gs;
      }
      gi[1] = gs;
    });
  return out;
}

}  // namespace cairn
